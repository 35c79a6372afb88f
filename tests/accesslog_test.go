package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// The access log (issue 15): root and members of vigil-auditors record
// their views through policyd's RecordAccess, anyone else is refused;
// vigilctl access-log lists the lines, verified, and shows an edited line.
func TestAccessLog(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	w := policyHost(t)
	appendFile(t, "/etc/group", "vigil-auditors:x:64520:bob\n")
	policy := filepath.Join(w, "policy.toml")
	writeFile(t, policy, policyV1)
	key := filepath.Join(w, "signing.key")
	if out, err := exec.Command(binPath("keygen"), key).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	dir := filepath.Join(w, "access")
	startPolicyd(t, policy, "--access-log", dir, "--signing-key", key)

	record := func(uid int, groups []uint32, args ...string) (string, error) {
		cmd := exec.Command("dbus-send", append([]string{"--system", "--print-reply", "--dest=io.vigil.Policy1",
			"/io/vigil/Policy1", "io.vigil.Policy1.RecordAccess"}, args...)...)
		if uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: groups}}
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	view := []string{"string:view", "string:/var/log/vigil/x.jsonl", "string:rec-1", "string:", "string:192.0.2.7"}
	if out, err := record(0, nil, view...); err != nil || !strings.Contains(out, "uint64 1") {
		t.Fatalf("RecordAccess as root: %v\n%s", err, out)
	}
	if out, err := record(bobUID, []uint32{64520}, "string:download", "string:/var/log/vigil/x.jsonl", "string:rec-1",
		"string:asciicast", "string:192.0.2.8"); err != nil || !strings.Contains(out, "uint64 2") {
		t.Fatalf("RecordAccess as bob (vigil-auditors): %v\n%s", err, out)
	}
	if out, err := record(aliceUID, nil, view...); err == nil || !strings.Contains(strings.ToLower(out), "denied") {
		t.Errorf("RecordAccess as alice: %v\n%s", err, out)
	}
	if out, err := record(0, nil, "string:delete", "string:x", "string:", "string:", "string:"); err == nil || !strings.Contains(out, "want one of") {
		t.Errorf("RecordAccess of an unknown action: %v\n%s", err, out)
	}

	list := func() (string, int) {
		cmd := exec.Command(binPath("vigilctl"), "access-log", "--dir", dir, "-k", key+".pub")
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := list()
	if code != 0 || !strings.Contains(out, " seq 1 root view /var/log/vigil/x.jsonl rec rec-1 from 192.0.2.7: OK") ||
		!strings.Contains(out, " seq 2 bob download /var/log/vigil/x.jsonl rec rec-1 (asciicast) from 192.0.2.8: OK") {
		t.Fatalf("vigilctl access-log: %d\n%s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("access log files %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], []byte(strings.Replace(string(data), `"who":"bob"`, `"who":"eve"`, 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	if out, code := list(); code != 1 || !strings.Contains(out, "seq 2 eve download") || !strings.Contains(out, "MODIFIED") {
		t.Errorf("vigilctl access-log after an edit: %d\n%s", code, out)
	}
}
