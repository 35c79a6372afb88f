// Package tests holds Vigil's end-to-end tests: the real binaries, run on
// real pseudo-terminals, against Debian's tlog as the compatibility oracle,
// with real services started in private mount namespaces.
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bin is the directory with freshly built binaries.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-e2e-bin.")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// 0755 so the unprivileged test users can reach the binaries.
	_ = os.Chmod(dir, 0o755)
	bin = dir
	build := exec.Command("go", "build", "-o", dir+"/", "../rec/cmd/...", "../play/cmd/...", "./tools/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func binPath(name string) string { return filepath.Join(bin, name) }

func needCmd(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (make deps installs it)", name)
	}
	return p
}
