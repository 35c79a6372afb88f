package conf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "commands.toml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := LoadCommands(write("dir = \"/srv/rec\"\nredact = ['^x=(.*)$']\n"))
	if err != nil || c.Dir != "/srv/rec" || !slices.Equal(c.Redact, []string{"^x=(.*)$"}) || !slices.Equal(c.RedactAfter, DefaultRedactAfter) {
		t.Fatalf("%+v %v", c, err)
	}
	for _, tc := range []struct{ src, want string }{
		{"# c\nredact = ['(']\n", "commands.toml:2: redact[0]: error parsing regexp"},
		{"dir = \"/x\"\nredcat = []\n", "commands.toml:2: redcat: unknown key"},
		{"dir = 1\n", "commands.toml:1: dir: must be a string"},
		{"redact_after = [1]\n", "commands.toml:1: redact_after: must be a list of strings"},
		{"dir = \n", "commands.toml:1: "},
	} {
		_, err := LoadCommands(write(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, err := LoadCommands(filepath.Join(dir, "none.toml")); err == nil {
		t.Error("a missing file named on purpose is no error")
	}
}
