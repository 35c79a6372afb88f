package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2"

	"github.com/vigil-rec/vigil/rec/audit"
	"github.com/vigil-rec/vigil/rec/auditrules"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/verify"
)

// auditState is the kernel's audit state a test must leave as it found it.
type auditState struct {
	enabled, pid, backlogLimit, backlogWait uint32
	rules                                   []string
}

func readAuditState(t *testing.T) (auditState, error) {
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return auditState{}, err
	}
	defer c.Close()
	st, err := c.GetStatus()
	if err != nil {
		return auditState{}, err
	}
	rules, err := audit.KernelRules()
	return auditState{st.Enabled, st.PID, st.BacklogLimit, st.BacklogWaitTime, rules}, err
}

// requireKernelAudit skips t unless the kernel's audit subsystem can be
// driven from here; it holds the lock rec/audit's tests take (the
// kernel's audit state is one for the host) and checks at the end that
// the audit rules and settings are back as they were.
func requireKernelAudit(t *testing.T) {
	t.Helper()
	before, err := readAuditState(t)
	if err != nil || before.enabled == 2 {
		t.Skipf("skipping: the kernel's audit subsystem cannot be driven here (%v, enabled=%d)", err, before.enabled)
	}
	f, err := os.OpenFile("/run/lock/vigil-audit-test.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if before, err = readAuditState(t); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer f.Close()
		after, err := readAuditState(t)
		if err != nil || !slices.Equal(after.rules, before.rules) || after.enabled != before.enabled || after.pid != before.pid ||
			after.backlogLimit != before.backlogLimit || after.backlogWait != before.backlogWait {
			t.Errorf("kernel audit state not restored (%v):\nbefore %+v\nafter  %+v", err, before, after)
			// Put it back: a failed test must not leave the host audited.
			if len(before.rules) == 0 {
				_, _ = audit.DeleteRules(auditrules.Lines())
			}
			if c, err := libaudit.NewAuditClient(nil); err == nil {
				_ = c.SetEnabled(before.enabled == 1, libaudit.WaitForReply)
				_ = c.SetBacklogLimit(before.backlogLimit, libaudit.WaitForReply)
				_ = c.SetBacklogWaitTime(int32(before.backlogWait), libaudit.WaitForReply)
				c.Close()
			}
		}
	})
}

// startCmdlog runs vigil-cmdlog (adding the audit rules itself, as the
// audit daemon when none runs) until stop or the test's end, stopping it
// with SIGTERM so that it removes the rules and hands auditing back. stop
// returns the CPU time it used.
func startCmdlog(t *testing.T, config string) (stop func() time.Duration) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "commands.toml")
	writeFile(t, conf, config)
	cmd := svctest.Start(t, binPath("vigil-cmdlog"), "--config", conf)
	var once sync.Once
	var cpu time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan *os.ProcessState, 1)
			go func() { st, _ := cmd.Process.Wait(); done <- st }()
			select {
			case st := <-done:
				if st != nil {
					cpu = st.UserTime() + st.SystemTime()
				}
			case <-time.After(10 * time.Second):
				t.Error("vigil-cmdlog did not stop within 10 s of SIGTERM")
			}
		})
		return cpu
	}
	t.Cleanup(func() { stop() })
	waitFor(t, "vigil-cmdlog's audit reader", func() bool {
		st, err := readAuditState(t)
		return err == nil && st.enabled == 1 && len(st.rules) > 0 && st.pid != 0
	})
	return stop
}

// A recorded user's commands — typed, from scripts, by bash -c and exec,
// programs run by programs, in a nested su and sudo -i — are written to the command
// log of her recording, secrets redacted, signed and verifying; an
// unrecorded user's are not kept anywhere.
func TestCommandsTimeline(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	requireKernelAudit(t)
	h := newLoginHost(t, loginPolicy, "")
	startCmdlog(t, "redact_after = [\"--token\"]\nredact = ['(?i)^--password=(.*)$', '(?i)^PGPASSWORD=(.*)$']\n")
	// alice may sudo (Debian's %sudo rule), to run a root shell inside her
	// recorded session.
	editGroups(t, "sudo", "alice")

	before := recordings(t)
	term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
	term.waitFor("alice@", 20*time.Second)
	term.typeText("/bin/true --password=hunter2 --token t0ken; bash -c 'id -u'; sh -c 'exec /bin/date +%s'; echo step-1\r")
	term.waitFor("step-1\r\n", 10*time.Second)
	term.typeText(`printf '#!/bin/sh\n/bin/cat /etc/hostname\n' > ~/s.sh; chmod +x ~/s.sh; ~/s.sh; env PGPASSWORD=pw /usr/bin/printenv HOME; echo step-2` + "\r")
	term.waitFor("step-2\r\n", 10*time.Second)
	// Hostile arguments: terminal escapes, bytes that are not UTF-8, 100 KB.
	term.typeText(`/bin/true $'\e]52;c;ZXZpbA==\a\e[2J' $'\xff\xfe' "$(head -c 100000 /dev/zero | tr '\0' x)"; echo step-2b` + "\r")
	term.waitFor("step-2b\r\n", 10*time.Second)
	term.typeText("su -l bob\r")
	term.waitFor("Password:", 10*time.Second)
	term.typeText(loginPassword + "\r")
	term.waitFor("Password: \r\n$ ", 10*time.Second) // bob's shell is sh
	term.typeText("/usr/bin/whoami; echo step-3; exit\r")
	term.waitFor("step-3\r\n", 10*time.Second)
	term.typeText("sudo -i\r")
	term.waitFor("password for alice:", 10*time.Second)
	term.typeText(loginPassword + "\r")
	term.waitFor("root@", 10*time.Second)
	term.typeText("/usr/bin/id -u; echo step-4; exit\r")
	// sudo flushes what was typed ahead when it gives the terminal back:
	// exit waits for alice's prompt.
	term.waitFor("step-4\r\nlogout\r\n\x1b[?2004halice@", 10*time.Second)
	term.typeText("exit\r")
	if code := term.wait(20 * time.Second); code != 0 {
		t.Fatalf("ssh exit %d; screen:\n%q", code, term.screen())
	}
	out, err := ssh("carol", "HOST", "/bin/ls /carol-was-here; true").CombinedOutput()
	if err != nil {
		t.Fatalf("carol: %v %s", err, out)
	}

	rec := waitRecording(t, before)
	head := readHead(t, rec)
	trusted, err := keys.LoadPublic(h.pub)
	if err != nil {
		t.Fatal(err)
	}
	var entries []commands.Entry
	var rep commands.Report
	waitFor(t, "the command log's end", func() bool {
		entries, rep, err = commands.ReadFile("/var/log/vigil", head.Rec, trusted)
		return err == nil && rep.Ended
	})
	if rep.State != verify.OK || len(rep.Lost) != 0 || entries[0].User != "alice" || entries[0].Session != head.Session {
		t.Fatalf("command log: %s; start %+v, recording session %d", rep.String(), entries[0], head.Session)
	}
	var got []string
	bobUIDs, rootUIDs := 0, 0
	for _, e := range entries {
		if e.Kind != commands.KindExec {
			continue
		}
		got = append(got, strings.Join(e.Cmd.Argv, " "))
		if e.Cmd.AUID != aliceUID || e.Cmd.TTY == "" {
			t.Errorf("command %q: auid %d tty %q", e.Cmd.Argv, e.Cmd.AUID, e.Cmd.TTY)
		}
		switch e.Cmd.UID {
		case bobUID:
			bobUIDs++
		case 0:
			rootUIDs++
		}
	}
	if want := "/bin/true \x1b]52;c;ZXZpbA==\a\x1b[2J \ufffd\ufffd " + strings.Repeat("x", 100000); !slices.Contains(got, want) {
		t.Error("the command with hostile arguments is not in the log as run")
	}
	for _, want := range []string{
		"/bin/true --password=[REDACTED] --token [REDACTED]",
		"bash -c id -u", "id -u", // bash -c runs its last command without a fork: both execs
		"sh -c exec /bin/date +%s", "/bin/date +%s",
		"/bin/sh /home/alice/s.sh", "/bin/cat /etc/hostname", // a script and what it runs
		"env PGPASSWORD=[REDACTED] /usr/bin/printenv HOME", "/usr/bin/printenv HOME",
		"su -l bob", "/usr/bin/whoami", "sudo -i", "/usr/bin/id -u",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("command %q not in the log", want)
		}
	}
	if bobUIDs == 0 || rootUIDs == 0 {
		t.Errorf("commands as bob in the nested su: %d, as root under sudo -i: %d", bobUIDs, rootUIDs)
	}
	for _, c := range got {
		if strings.Contains(c, "hunter2") || strings.Contains(c, "t0ken") || strings.Contains(c, "PGPASSWORD=pw") || strings.Contains(c, "carol-was-here") {
			t.Errorf("command %q should not be in the log", c)
		}
	}
	if t.Failed() {
		t.Logf("commands:\n%s", strings.Join(got, "\n"))
	}
	// Only alice's recording has a log; the logs are root's, readable by
	// vigil (the shipper) and nobody else.
	logs, _ := filepath.Glob("/var/log/vigil/commands/*")
	if len(logs) != 1 {
		t.Errorf("command logs: %v", logs)
	}
	fi, err := os.Stat(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != vigilUID || fi.Mode().Perm() != 0o640 {
		t.Errorf("%s: owner %d:%d mode %v, want root:vigil 0640", logs[0], st.Uid, st.Gid, fi.Mode().Perm())
	}
	// Registrations are gone with the recordings.
	if regs, _ := filepath.Glob("/run/vigil/recording.*"); len(regs) != 0 {
		t.Errorf("registrations left: %v", regs)
	}
}

// readHead returns the recording's first message's rec and session.
func readHead(t *testing.T, file string) struct {
	Rec     string
	Session uint32
} {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var m struct {
		Rec     string
		Session uint32
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}
