package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// Every program's help reads as GNU tools' does: "-h, --help", not pflag
// 1.1's "--help[=true|false]".
func TestHelpText(t *testing.T) {
	for _, b := range []string{"vigilctl", "vigil-play", "vigil-rec", "vigil-policyd", "vigil-collector"} {
		out, err := exec.Command(binPath(b), "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "-h, --help ") || strings.Contains(string(out), "[=true|false]") {
			t.Errorf("%s --help: %v\n%s", b, err, out)
		}
	}
}
