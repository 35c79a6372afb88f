package cmdlog

import (
	"slices"
	"testing"

	"github.com/vigil-rec/vigil/conf"
)

func TestRedactDefaults(t *testing.T) {
	r, err := NewRedactor(conf.DefaultRedact, conf.DefaultRedactAfter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want []string
		n        int
	}{
		{[]string{"ls", "-l", "/tmp"}, []string{"ls", "-l", "/tmp"}, 0},
		{[]string{"app", "--password=hunter2", "--db-password=x=y"}, []string{"app", "--password=[REDACTED]", "--db-password=[REDACTED]"}, 2},
		{[]string{"env", "PGPASSWORD=s3cret", "MYSQL_PWD=x", "GITHUB_TOKEN=ghp_1", "psql"}, []string{"env", "PGPASSWORD=[REDACTED]", "MYSQL_PWD=x", "GITHUB_TOKEN=[REDACTED]", "psql"}, 2},
		{[]string{"curl", "https://bob:pa55@example.com/x"}, []string{"curl", "https://bob:[REDACTED]@example.com/x"}, 1},
		{[]string{"ssh", "-p2222", "-pX"}, []string{"ssh", "-p2222", "-pX"}, 0},
		{[]string{"tool", "--password", "hunter2", "--token", "t"}, []string{"tool", "--password", "[REDACTED]", "--token", "[REDACTED]"}, 2},
		{[]string{"--password"}, []string{"--password"}, 0},
		{[]string{"grep", "-r", "password", "."}, []string{"grep", "-r", "password", "."}, 0},
	} {
		got, n := r.Argv(tc.in)
		if !slices.Equal(got, tc.want) || n != tc.n {
			t.Errorf("%q: %q (%d), want %q (%d)", tc.in, got, n, tc.want, tc.n)
		}
	}
	// No groups: the whole argument; several groups each.
	r, _ = NewRedactor([]string{`^secret-`, `^(a)=(b)$`}, nil)
	if got, n := r.Argv([]string{"secret-x", "a=b", "c"}); !slices.Equal(got, []string{"[REDACTED]", "[REDACTED]=[REDACTED]", "c"}) || n != 2 {
		t.Errorf("%q %d", got, n)
	}
	if _, err := NewRedactor([]string{"("}, nil); err == nil {
		t.Error("a bad pattern compiled")
	}
}
