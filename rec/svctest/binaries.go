package svctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// Modules, given to RunWithBinaries as a package, builds the NSS and PAM
// modules (libnss_vigil.so.2, pam_vigil.so) with the Makefile's own rules.
const Modules = "@modules"

// envBin passes the binaries' directory to re-executed tests.
const envBin = "VIGIL_TEST_BIN"

// RunWithBinaries is an end-to-end test package's TestMain: it builds the
// Go packages pkgs (paths relative to the test's directory; Modules for the
// modules) into a fresh directory readable by unprivileged test users,
// stores its path in *dir, runs the tests, removes the directory and exits
// with their status. XDG_CACHE_HOME points into that directory, so caches
// the tests' programs keep (vigil-play's list and seek indexes) are the
// tests' own and go with it.
func RunWithBinaries(m *testing.M, dir *string, pkgs ...string) {
	// A test re-executed in its namespace (InNamespace) uses the binaries
	// its parent built.
	if d := os.Getenv(envBin); d != "" {
		*dir = d
		os.Exit(m.Run())
	}
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
	var builds []*exec.Cmd
	if i := slices.Index(pkgs, Modules); i >= 0 {
		pkgs = slices.Delete(slices.Clone(pkgs), i, i+1)
		_, self, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(self), "..", "..")
		builds = append(builds, exec.Command("make", "-s", "-C", root, "BIN="+d,
			d+"/libnss_vigil.so.2", d+"/pam_vigil.so"))
	}
	builds = append(builds, exec.Command("go", append([]string{"build", "-o", d + "/"}, pkgs...)...))
	for _, build := range builds {
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.RemoveAll(d)
			os.Exit(1)
		}
	}
	*dir = d
	os.Setenv(envBin, d)
	os.Setenv("XDG_CACHE_HOME", filepath.Join(d, "cache"))
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}
