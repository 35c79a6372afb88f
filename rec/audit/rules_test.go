package audit

import (
	"github.com/vigil-rec/vigil/rec/auditrules"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	libaudit "github.com/elastic/go-libaudit/v2"
)

func TestRulesText(t *testing.T) {
	rules := auditrules.Lines()
	if len(rules) != 2 {
		t.Fatalf("rules %q", rules)
	}
	for _, l := range rules {
		c, err := compile(l)
		if err != nil {
			t.Fatal(err)
		}
		// As the kernel (and auditctl -l) will list it.
		if !strings.Contains(c.canon, "-S execve,execveat -F auid!=-1 -F key="+auditrules.Key) {
			t.Errorf("%q renders as %q", l, c.canon)
		}
	}
	file := string(auditrules.File())
	for _, l := range rules {
		if !strings.Contains(file, "\n"+l+"\n") {
			t.Errorf("rules file lacks %q:\n%s", l, file)
		}
	}
	for _, line := range strings.Split(file, "\n") {
		if strings.HasPrefix(line, "-e") || strings.HasPrefix(line, "-D") {
			t.Errorf("rules file line %q", line)
		}
	}
	if _, err := DeleteRules([]string{"-a always,exit -F arch=b64 -S all -k other"}); err == nil {
		t.Error("DeleteRules accepted a rule that is not Vigil's")
	}
}

// AddRules adds only what is missing; DeleteRules removes exactly Vigil's
// rules and leaves a look-alike with another key in place.
func TestRulesAddDelete(t *testing.T) {
	requireAudit(t)
	before, err := KernelRules()
	if err != nil {
		t.Fatal(err)
	}
	added, err := AddRules()
	t.Cleanup(func() { _, _ = DeleteRules(added) })
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 2 {
		t.Fatalf("added %q (the kernel had %q)", added, before)
	}
	again, err := AddRules()
	if err != nil || len(again) != 0 {
		t.Errorf("second AddRules: %q, %v", again, err)
	}
	foreign, err := compile("-a always,exit -F arch=b64 -S execve,execveat -F auid!=unset -k not-vigil")
	if err != nil {
		t.Fatal(err)
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.DeleteRule(foreign.wire)
		c.Close()
	})
	if err := c.AddRule(foreign.wire); err != nil {
		t.Fatal(err)
	}
	n, err := DeleteRules(auditrules.Lines())
	if err != nil || n != 2 {
		t.Fatalf("DeleteRules: %d, %v", n, err)
	}
	after, err := KernelRules()
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(before), foreign.canon); !slices.Equal(after, want) {
		t.Errorf("rules after delete %q, want %q", after, want)
	}
	if n, err := DeleteRules(auditrules.Lines()); err != nil || n != 0 {
		t.Errorf("DeleteRules with none present: %d, %v", n, err)
	}
}

// auditctl (package auditd) loads auditrules.File as auditd would, and
// DeleteRules recognises what it loaded.
func TestRulesFileWithAuditctl(t *testing.T) {
	requireAudit(t)
	auditctl, err := exec.LookPath("auditctl")
	if err != nil {
		t.Skip("skipping: auditctl (Debian package auditd) is not installed")
	}
	before, err := KernelRules()
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(before, func(r string) bool { return strings.Contains(r, auditrules.Key) }) {
		t.Skip("skipping: Vigil's rules are loaded already")
	}
	file := filepath.Join(t.TempDir(), "vigil.rules")
	if err := os.WriteFile(file, auditrules.File(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = DeleteRules(auditrules.Lines()) })
	if out, err := exec.Command(auditctl, "-R", file).CombinedOutput(); err != nil {
		t.Fatalf("auditctl -R: %v\n%s", err, out)
	}
	if out, err := exec.Command(auditctl, "-l").CombinedOutput(); err == nil {
		t.Logf("auditctl -l:\n%s", out)
	}
	n, err := DeleteRules(auditrules.Lines())
	if err != nil || n != 2 {
		t.Fatalf("DeleteRules after auditctl -R: %d, %v", n, err)
	}
}
