package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCtl runs vigilctl enable or disable with args; stdout and stderr
// together.
func runCtl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var cmd = enableCmd()
	if args[0] == "disable" {
		cmd = disableCmd()
	}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args[1:])
	err := cmd.Execute()
	return out.String(), err
}

// The flags reach policyd/loginhooks, which has the tests of what enable
// and disable do.
func TestEnableFlags(t *testing.T) {
	root := t.TempDir()
	if _, err := runCtl(t, "enable", "--dry-run", "--root", root); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("enable --root without --force: %v", err)
	}
	out, err := runCtl(t, "enable", "-n", "--root", root, "--force")
	if err == nil || !strings.Contains(out, "--force: not checking") || !strings.Contains(err.Error(), root+"/usr/lib/") {
		t.Errorf("enable -n --root %s --force: %v\n%s", root, err, out)
	}
	if _, err := runCtl(t, "disable", "-n", "--root", root); err == nil || !strings.Contains(err.Error(), root+"/etc/pam.d") {
		t.Errorf("disable -n --root %s: %v", root, err)
	}
}
