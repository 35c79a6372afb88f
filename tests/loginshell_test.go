package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/rec/svctest"
)

const loginShellPolicy = `
recorder = "@RECORDER@"

[session_recording]
scope = "some"
users = ["alice", "dave"]
`

// A user the policy records is recorded whatever their passwd entry spells
// as shell: an unusual spelling of a listed shell is that shell, recorded;
// a program /etc/shells does not list gets nologin, never itself; only the
// system's own no-login programs are left alone. Each case changes dave's
// shell (usermod -s would) and logs in over real sshd.
func TestLoginShellSpelling(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginShellPolicy, "")
	if err := os.Mkdir("/home/dave", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown("/home/dave", daveUID, daveUID); err != nil {
		t.Fatal(err)
	}
	// A program named nologin that is not the system's: dave's own.
	fake := "/home/dave/nologin"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho FAKE-NOLOGIN-$((6*7))\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(fake, daveUID, daveUID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, shell string
		recorded    bool   // a recording of the session, showing the command's output
		runs        string // what policyd says the recorder runs
		probe       string // prints PROBE-42 if the shell runs it
	}{
		{"double-slash", "/bin//bash", true, "/bin/bash", "echo PROBE-$((6*7))"},
		{"dot-dot", "/usr/bin/../bin/bash", true, "/usr/bin/bash", "echo PROBE-$((6*7))"},
		{"empty", "", true, "/bin/sh", "echo PROBE-$((6*7))"},
		{"python", "/usr/bin/python3", false, "/usr/sbin/nologin", `print("PROBE-" + str(6*7))`},
		{"own-nologin", fake, false, "/usr/sbin/nologin", "echo PROBE-$((6*7))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := loginShellSet(t, c.shell)
			if !ex.Record || ex.Shell != c.runs {
				t.Errorf("explain dave with shell %q: record=%v shell=%q rule=%q, want recorded, running %s", c.shell, ex.Record, ex.Shell, ex.Rule, c.runs)
			}
			before := recordings(t)
			out, _ := ssh("dave", "HOST", c.probe).CombinedOutput()
			if !c.recorded {
				if strings.Contains(string(out), "PROBE-42") || strings.Contains(string(out), "FAKE-NOLOGIN") ||
					!strings.Contains(string(out), "This account is currently not available") {
					t.Fatalf("shell %s was run, not nologin:\n%s", c.shell, out)
				}
				// Interactively too: no Python prompt, nologin's message.
				cmd := ssh("dave", "-tt", "HOST")
				cmd.Stdin = strings.NewReader("print(6*7)\n")
				out, _ = cmd.CombinedOutput()
				if strings.Contains(string(out), ">>>") || strings.Contains(string(out), "FAKE-NOLOGIN") ||
					!strings.Contains(string(out), "This account is currently not available") {
					t.Fatalf("interactive login with shell %s:\n%s", c.shell, out)
				}
				return
			}
			if !strings.Contains(string(out), "PROBE-42") {
				t.Fatalf("ssh dave: %s", out)
			}
			rec := waitRecording(t, before)
			verifyFile(t, rec, h.pub)
			if !strings.Contains(string(outputOf(decode(t, rec))), "PROBE-42") {
				t.Errorf("the session's output is not in the recording %s", rec)
			}
		})
	}
	// The system's nologin stays nologin: not wrapped (NSS hands out the
	// real entry), and the login is refused by nologin itself.
	t.Run("system-nologin", func(t *testing.T) {
		ex := loginShellSet(t, "/usr/sbin/nologin")
		if ex.Record || ex.Rule != "no-login shell" {
			t.Fatalf("explain dave with nologin: record=%v rule=%q", ex.Record, ex.Rule)
		}
		out, err := exec.Command("getent", "passwd", "dave").Output()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), ":/usr/sbin/nologin") {
			t.Errorf("getent passwd dave = %q, %v: want the real entry", out, err)
		}
		before := recordings(t)
		out, _ = ssh("dave", "HOST", "echo PROBE-$((6*7))").CombinedOutput()
		if strings.Contains(string(out), "PROBE-42") || !strings.Contains(string(out), "This account is currently not available") {
			t.Errorf("nologin user: %s", out)
		}
		if recs := newRecordings(t, before); len(recs) != 0 {
			t.Errorf("recordings of a nologin user: %v", recs)
		}
	})
}

// loginShellExplanation is vigilctl explain --json with the passwd shell.
type loginShellExplanation struct {
	Record bool   `json:"record"`
	Rule   string `json:"rule"`
	Shell  string `json:"shell"`
	User   struct {
		Shell string `json:"shell"`
	} `json:"user"`
}

// loginShellSet gives dave the shell (as usermod -s would), waits until
// policyd has seen it and returns its explanation for sshd.
func loginShellSet(t *testing.T, shell string) loginShellExplanation {
	t.Helper()
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(string(passwd), "\n"), "\n") {
		if strings.HasPrefix(l, "dave:") {
			l = fmt.Sprintf("dave:x:%d:%d:Dave:/home/dave:%s", daveUID, daveUID, shell)
		}
		lines = append(lines, l)
	}
	writeFile(t, "/etc/passwd", strings.Join(lines, "\n")+"\n")
	var ex loginShellExplanation
	waitFor(t, "policyd to see dave's shell "+shell, func() bool {
		out, err := exec.Command(binPath("vigilctl"), "explain", "--json", "dave", "--service", "sshd").Output()
		return err == nil && json.Unmarshal(out, &ex) == nil && ex.User.Shell == shell
	})
	return ex
}
