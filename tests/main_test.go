// Package tests holds Vigil's end-to-end tests: the real binaries, run on
// real pseudo-terminals, against Debian's tlog as the compatibility oracle,
// with real services started in private mount namespaces.
package tests

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// bin is the directory with freshly built binaries.
var bin string

func TestMain(m *testing.M) {
	svctest.RunWithBinaries(m, &bin, "../rec/cmd/...", "../play/cmd/...", "../play/collector/cmd/...", "../policyd/cmd/...", "./tools/...", svctest.Modules)
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
