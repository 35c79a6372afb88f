package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgsAndShellArgv(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want []string // real shell argv for /bin/bash
		err  string
	}{
		{[]string{"-vigil-rec-session"}, []string{"-bash"}, ""},
		{[]string{"vigil-rec-session"}, []string{"bash"}, ""},
		{[]string{"vigil-rec-session", "-l"}, []string{"-bash"}, ""},
		{[]string{"vigil-rec-session", "-i"}, []string{"bash", "-i"}, ""},
		{[]string{"vigil-rec-session", "-c", "ls -l /"}, []string{"bash", "-c", "ls -l /"}, ""},
		{[]string{"vigil-rec-session", "-c", "echo $0 $1", "name", "arg"}, []string{"bash", "-c", "echo $0 $1", "name", "arg"}, ""},
		{[]string{"-vigil-rec-session", "-lic", "id"}, []string{"-bash", "-i", "-c", "id"}, ""},
		{[]string{"vigil-rec-session", "script.sh", "a"}, []string{"bash", "script.sh", "a"}, ""},
		{[]string{"vigil-rec-session", "--", "-x"}, []string{"bash", "-x"}, ""},
		{[]string{"vigil-rec-session", "-c"}, nil, "-c: option requires an argument"},
		{[]string{"vigil-rec-session", "-z"}, nil, "unknown option -z"},
		{[]string{"vigil-rec-session", "--shell=/bin/sh"}, nil, `unknown option "--shell=/bin/sh"`},
	} {
		inv, err := ParseArgs(tc.argv)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.argv, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.argv, err)
			continue
		}
		if got := inv.ShellArgv("/bin/bash"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: shell argv %q, want %q", tc.argv, got, tc.want)
		}
	}
}

func TestRealShell(t *testing.T) {
	dir := t.TempDir()
	shells := filepath.Join(dir, "shells")
	if err := os.WriteFile(shells, []byte("# comment\n/bin/sh\n/bin/bash\n/usr/bin/vigil-rec-session\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		env        map[string]string
		configured string
		want       string
		err        string
	}{
		{nil, "/bin/bash", "/bin/bash", ""},
		{map[string]string{"TLOG_REC_SESSION_SHELL": "/bin/sh"}, "/bin/bash", "/bin/sh", ""},
		{map[string]string{"VIGIL_REC_SHELL": "/bin/bash", "TLOG_REC_SESSION_SHELL": "/bin/sh"}, "/bin/sh", "/bin/bash", ""},
		{map[string]string{"VIGIL_REC_SHELL": "/usr/bin/python3"}, "/bin/bash", Nologin, "not listed"},
		{map[string]string{"VIGIL_REC_SHELL": "bash"}, "/bin/bash", Nologin, "not an absolute path"},
		{map[string]string{"VIGIL_REC_SHELL": "/usr/bin/vigil-rec-session"}, "/bin/bash", Nologin, "is a session recorder"},
		// Read as login programs read the passwd field.
		{map[string]string{"VIGIL_REC_SHELL": "/bin//bash"}, "/bin/sh", "/bin/bash", ""},
		{map[string]string{"VIGIL_REC_SHELL": "/usr/../bin/./sh"}, "/bin/bash", "/bin/sh", ""},
		{map[string]string{"VIGIL_REC_SHELL": "/usr/lib/../bin/python3"}, "/bin/bash", Nologin, `"/usr/lib/../bin/python3" is not listed`},
		{map[string]string{"VIGIL_REC_SHELL": "/usr/bin/../bin/vigil-rec-session"}, "/bin/bash", Nologin, "is a session recorder"},
		{nil, "", "/bin/sh", ""},
		// What policyd names for a shell /etc/shells does not allow.
		{nil, "/usr/sbin/nologin", Nologin, ""},
		{map[string]string{"VIGIL_REC_SHELL": "/usr/sbin//nologin"}, "/bin/bash", Nologin, ""},
		{nil, "/bin/false", Nologin, "not listed"},
	} {
		got, err := RealShell(env(tc.env), tc.configured, shells, "")
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v / %s: got %q, %v; want %q, %q", tc.env, tc.configured, got, err, tc.want, tc.err)
		}
	}
	if _, err := RealShell(env(nil), "/bin/sh", filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("a missing shells file must refuse the shell")
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, 42)
	if err != nil {
		t.Fatal(err)
	}
	// Held by a live recorder that is not our ancestor (here: ourselves):
	// recorded anyway, without the lock.
	if l2, err := Acquire(dir, 42); err != nil || l2.path != "" {
		t.Fatalf("lock held by a non-ancestor: %+v %v, want no lock and no error", l2, err)
	}
	if l2, err := Acquire(dir, 43); err != nil {
		t.Fatalf("another session: %v", err)
	} else if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	// Held by a live ancestor (our parent): its recording covers us.
	held := filepath.Join(dir, "session.44.lock")
	if err := os.WriteFile(held, fmt.Appendf(nil, "%d %d\n", os.Getppid(), startTime(os.Getppid())), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir, 44); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held by our parent: %v, want ErrLocked", err)
	}
	os.Remove(held)
	// A lock whose owner is gone is taken over.
	stale := filepath.Join(dir, "session.42.lock")
	if err := os.WriteFile(stale, []byte("999999999 12345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = Acquire(dir, 42)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	b, _ := os.ReadFile(stale)
	if want := fmt.Sprintf("%d %d\n", os.Getpid(), startTime(os.Getpid())); string(b) != want {
		t.Errorf("lock content %q, want %q", b, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	// Unset audit sessions are never locked together.
	a, err1 := Acquire(dir, UnsetSession)
	b2, err2 := Acquire(dir, UnsetSession)
	if err1 != nil || err2 != nil {
		t.Fatalf("unset session: %v %v", err1, err2)
	}
	_ = a.Release()
	_ = b2.Release()
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("locks left: %v", m)
	}
}
