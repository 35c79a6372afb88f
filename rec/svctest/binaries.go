package svctest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RunWithBinaries is an end-to-end test package's TestMain: it builds the
// Go packages pkgs (paths relative to the test's directory) into a fresh
// directory readable by unprivileged test users, stores its path in *dir,
// runs the tests, removes the directory and exits with their status.
func RunWithBinaries(m *testing.M, dir *string, pkgs ...string) {
	d, err := os.MkdirTemp("", "vigil-test-bin.")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// 0755 so the unprivileged test users can reach the binaries.
	if err := os.Chmod(d, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(d)
		os.Exit(1)
	}
	build := exec.Command("go", append([]string{"build", "-o", d + "/"}, pkgs...)...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(d)
		os.Exit(1)
	}
	*dir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}
