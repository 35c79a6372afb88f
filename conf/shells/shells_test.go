package shells

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	for field, want := range map[string]string{
		"":                     "/bin/sh",
		"/bin/bash":            "/bin/bash",
		"/bin//bash":           "/bin/bash",
		"/bin/./bash":          "/bin/bash",
		"/usr/bin/../bin/bash": "/usr/bin/bash",
		"/bin/bash/":           "/bin/bash",
		"//bin/bash":           "/bin/bash",
		"/../bin/bash":         "/bin/bash",
		"bash":                 "bash",
		"./bash":               "./bash",
	} {
		if got := Clean(field); got != want {
			t.Errorf("Clean(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestNoLogin(t *testing.T) {
	for field, want := range map[string]bool{
		"/usr/sbin/nologin": true, "/sbin/nologin": true, "/bin/false": true, "/usr/bin/false": true,
		// Only the exact system paths: these are wrapped, and the recorder
		// decides what runs.
		"/usr/sbin//nologin": false, "/home/dave/nologin": false, "/usr/local/sbin/nologin": false,
		"nologin": false, "": false, "/bin/bash": false, "/usr/sbin/nologin ": false,
	} {
		if got := NoLogin(field); got != want {
			t.Errorf("NoLogin(%q) = %v", field, got)
		}
	}
}

func TestAllows(t *testing.T) {
	entries := Parse([]byte("# /etc/shells: valid login shells\n/bin/sh\n  /bin//bash  \n\nbash\n/usr/bin/tmux # not a comment\n/usr/bin/zsh\n"))
	if strings.Join(entries, ",") != "/bin/sh,/bin//bash,/usr/bin/tmux # not a comment,/usr/bin/zsh" {
		t.Fatalf("Parse: %q", entries)
	}
	split := New(entries, nil)
	merged := New(entries, usrMerged)
	for _, c := range []struct {
		shell         string
		split, merged bool
	}{
		{"/bin/sh", true, true},
		{"/bin/bash", true, true}, // listed as /bin//bash
		{"/usr/bin/bash", false, true},
		{"/usr/bin/sh", false, true},
		{"/bin/zsh", false, true},
		{"/usr/bin/zsh", true, true},
		{"/sbin/sh", false, false},
		{"/usr/local/bin/bash", false, false},
		{"/usr/bin/tmux", false, false},
		{"bash", false, false},
		{"/bin//bash", false, false}, // not cleaned: the caller runs what it asks about
		{"/usr/bin/python3", false, false},
	} {
		if got := split.Allows(c.shell); got != c.split {
			t.Errorf("split /usr: Allows(%q) = %v", c.shell, got)
		}
		if got := merged.Allows(c.shell); got != c.merged {
			t.Errorf("merged /usr: Allows(%q) = %v", c.shell, got)
		}
	}
	if (List{}).Allows("/bin/sh") {
		t.Error("the zero List allows a shell")
	}
}

func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shells")
	if err := os.WriteFile(p, []byte("/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Read(p)
	if err != nil || !l.Allows("/bin/bash") {
		t.Fatalf("Read: %v, allows /bin/bash: %v", err, l.Allows("/bin/bash"))
	}
	// /usr/bin/bash is /bin/bash exactly when this host merged /usr.
	a, _ := os.Stat("/bin")
	b, _ := os.Stat("/usr/bin")
	if merged := a != nil && b != nil && os.SameFile(a, b); l.Allows("/usr/bin/bash") != merged {
		t.Errorf("Allows(/usr/bin/bash) = %v on a host where /usr is merged: %v", !merged, merged)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzShells checks, for any /etc/shells and any passwd field, that a
// cleaned shell is allowed only if it is absolute and cleaned, that every
// listed entry allows its cleaned self, and that cleaning is idempotent.
func FuzzShells(f *testing.F) {
	f.Add([]byte("/bin/sh\n/bin//bash\n# c\n"), "/bin//bash")
	f.Add([]byte("/usr/bin/zsh\n"), "/bin/zsh")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, data []byte, field string) {
		entries := Parse(data)
		l := New(entries, usrMerged)
		for _, e := range entries {
			if !l.Allows(Clean(e)) {
				t.Fatalf("entry %q not allowed as %q", e, Clean(e))
			}
		}
		shell := Clean(field)
		if Clean(shell) != shell {
			t.Fatalf("Clean not idempotent: %q -> %q -> %q", field, shell, Clean(shell))
		}
		if l.Allows(shell) && (!path.IsAbs(shell) || path.Clean(shell) != shell) {
			t.Fatalf("allowed %q", shell)
		}
		if NoLogin(field) && Clean(field) != field {
			t.Fatalf("no-login spelling %q is not clean", field)
		}
	})
}
