package pam

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf/pamenv"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

// buildDriver compiles testdata/driver.c with session.c, bus.c and the NSS
// module's snapshot reader, with AddressSanitizer and UBSan: any bad
// memory access in the module's logic fails the test that caused it.
func buildDriver(dir string) (string, error) {
	out := filepath.Join(dir, "driver")
	cmd := exec.Command("gcc", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
		"-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-o", out,
		"testdata/driver.c", "src/session.c", "../nss/src/snapshot.c")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %v\n%s", cmd.Args, err, b)
	}
	return out, nil
}

// runDriver runs the driver and returns its output lines.
func runDriver(t *testing.T, stdin string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(driver, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("driver %q: %v\n%s", args, err, stderr.String())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// The names the C module spells itself are Go's.
func TestNames(t *testing.T) {
	want := []string{
		"BusName=" + wire.BusName, "Path=" + wire.Path, "Interface=" + wire.Interface,
		"ErrNoSuchUser=" + wire.ErrNoSuchUser, "DefaultSystemBus=" + wire.DefaultSystemBus,
		"RecShell=" + pamenv.RecShell, "RecConf=" + pamenv.RecConf, "RecService=" + pamenv.RecService,
		"TlogSessionShell=" + pamenv.TlogSessionShell, "TlogSessionConf=" + pamenv.TlogSessionConf,
		"SnapshotPath=" + nssdb.SnapshotPath,
	}
	if got := runDriver(t, "", "names"); !reflect.DeepEqual(got, want) {
		t.Errorf("C names\n%q\nwant\n%q", got, want)
	}
}

// outcome is one session run of the driver.
type outcome struct {
	decided     bool // policyd was asked
	result      string
	env         []string
	errs, infos []string
	logs        []string // "PRIORITY text"
	lines       []string // the driver's output, in order
}

func openSession(t *testing.T, keys []string, args ...string) outcome {
	t.Helper()
	var o outcome
	for _, l := range runDriver(t, "", append(append(append([]string{"session"}, keys...), "--"), args...)...) {
		o.lines = append(o.lines, l)
		kind, rest, _ := strings.Cut(l, " ")
		switch kind {
		case "decide":
			o.decided = true
		case "result":
			o.result = rest
		case "env":
			o.env = append(o.env, rest)
		case "msg":
			if text, ok := strings.CutPrefix(rest, "error "); ok {
				o.errs = append(o.errs, text)
			} else {
				o.infos = append(o.infos, strings.TrimPrefix(rest, "info "))
			}
		case "log":
			o.logs = append(o.logs, rest)
		default:
			t.Fatalf("driver line %q", l)
		}
	}
	return o
}

func (o outcome) hasLog(prio, substr string) bool {
	for _, l := range o.logs {
		if (prio == "" || strings.HasPrefix(l, prio+" ")) && strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

const (
	recorder = "/usr/bin/vigil-rec-session"
	conf     = `{"log":{"input":true}}`
)

func TestOpen(t *testing.T) {
	snapAlice := writeSnapshot(t,
		nssdb.Entry{Name: "alice", Passwd: "x", UID: 1001, GID: 1001, Dir: "/home/alice", Shell: recorder, Recorded: true},
		nssdb.Entry{Name: "bob", Passwd: "x", UID: 1002, GID: 1002, Dir: "/home/bob", Shell: "/bin/bash"})
	nobodyPath := filepath.Join(t.TempDir(), "nobody.snapshot")
	if err := nssdb.WriteSnapshot(nobodyPath, 3, true, nil); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.snapshot")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("x", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	snap := func(p string) string { return "snapshot=" + p }

	wrapped := []string{"user=alice", "service=sshd", "nss=" + recorder}
	plain := []string{"user=alice", "service=sshd", "nss=/bin/bash"}
	record := []string{"bus=ok", "record=1", "shell=/bin/bash", "recorder=" + recorder, "conf=" + conf, `rule=rule "ops" (policy.toml:4)`}
	norecord := []string{"bus=ok", "record=0", "shell=/bin/bash", "recorder=" + recorder, "conf={}", `rule=rule "sftp" (policy.toml:9)`}
	down := []string{"bus=failed", "err=policyd is unavailable: system bus: no owner"}
	env := func(service, shell, conf string) []string {
		return []string{"VIGIL_REC_SHELL=" + shell, "VIGIL_REC_CONF=" + conf, "VIGIL_REC_SERVICE=" + service,
			"TLOG_REC_SESSION_SHELL=" + shell, "TLOG_REC_SESSION_CONF_TEXT=" + conf}
	}
	with := func(a ...[]string) []string {
		var r []string
		for _, x := range a {
			r = append(r, x...)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		keys    []string
		args    []string
		want    string
		env     []string
		errMsg  string // substring of the one error message, "" for none
		infoMsg bool   // one informational message
		log     string // substring of some syslog line
	}{
		{name: "recorded", keys: with(wrapped, record),
			want: "success", env: env("sshd", "/bin/bash", conf), log: "the login shell is the recorder " + recorder},
		{name: "recorded, su by root", keys: with([]string{"user=alice", "service=su", "nss=" + recorder, "root=1"}, record),
			want: "success", env: env("su", "/bin/bash", conf), log: "su run by root: a shell named with -s/--shell"},
		{name: "recorded, empty conf", keys: with(wrapped, []string{"bus=ok", "record=1", "shell=/bin/zsh", "recorder=" + recorder}),
			want: "success", env: env("sshd", "/bin/zsh", "{}")},
		{name: "not recorded", keys: with(plain, norecord), want: "ignore"},
		{name: "norecord but wrapped by NSS", keys: with(wrapped, norecord),
			want: "success", env: env("sshd", "/bin/bash", "{}"), log: "recorded anyway"},
		{name: "shell mismatch", keys: with(plain, record),
			want: "denied", errMsg: "recorder is not the login shell", log: `shell "/bin/bash", not the recorder`},
		{name: "shell mismatch, quiet still shows the error", keys: with(plain, record), args: []string{"quiet"},
			want: "denied", errMsg: "recorder is not the login shell"},
		{name: "hostile NSS shell and rhost are escaped", keys: with([]string{"user=alice", "service=sshd", "rhost=x\x1b]0;y\x07", "nss=/bin/sh\n\x1b[2J"}, record),
			want: "denied", errMsg: "recorder is not the login shell", log: `rhost "x\x1b]0;y\x07", tty ""`},
		{name: "a long rhost is cut", keys: with([]string{"user=alice", "service=sshd", "rhost=" + strings.Repeat("é\"", 400), "nss=/bin/sh"}, record),
			want: "denied", errMsg: "recorder is not the login shell", log: `...", tty ""`},
		{name: "no NSS entry", keys: with([]string{"user=alice", "service=sshd"}, record),
			want: "denied", errMsg: "recorder is not the login shell", log: "no passwd entry"},
		{name: "empty NSS shell vs empty recorder", keys: with([]string{"user=alice", "service=sshd", "nss="}, []string{"bus=ok", "record=1", "shell=/bin/bash"}),
			want: "denied", errMsg: "recorder", log: "no recorder"},
		{name: "NoSuchUser", keys: with(plain, []string{"bus=nosuchuser", "err=decide: " + wire.ErrNoSuchUser + ": no such user"}),
			want: "ignore", log: "unknown to policyd"},
		{name: "down, snapshot recorded, deny", keys: with(wrapped, down), args: []string{snap(snapAlice)},
			want: "denied", errMsg: "recording policy service is unavailable", log: "says alice is recorded; on_unavailable=deny"},
		{name: "down, snapshot recorded, deny explicitly", keys: with(wrapped, down), args: []string{"on_unavailable=deny", snap(snapAlice)},
			want: "denied", errMsg: "unavailable"},
		{name: "down, snapshot recorded, allow", keys: with(wrapped, down), args: []string{"on_unavailable=allow", snap(snapAlice)},
			want: "ignore", infoMsg: true, log: "on_unavailable=allow: session allowed"},
		{name: "down, snapshot recorded, allow quiet", keys: with(wrapped, down), args: []string{"on_unavailable=allow", "quiet", snap(snapAlice)},
			want: "ignore", log: "on_unavailable=allow"},
		{name: "down, snapshot recorded, allow silent", keys: with(wrapped, down, []string{"silent=1"}), args: []string{"on_unavailable=allow", snap(snapAlice)},
			want: "ignore"},
		{name: "down, snapshot not recorded", keys: with([]string{"user=bob", "nss=/bin/bash"}, down), args: []string{snap(snapAlice)},
			want: "ignore", log: "not recorded according to the snapshot"},
		{name: "down, unknown to snapshot, deny", keys: with([]string{"user=carol", "nss=/bin/bash"}, down), args: []string{snap(snapAlice)},
			want: "denied", errMsg: "unavailable", log: "does not know carol, who may be recorded; on_unavailable=deny"},
		{name: "down, unknown to snapshot, allow", keys: with([]string{"user=carol", "nss=/bin/bash"}, down), args: []string{"on_unavailable=allow", snap(snapAlice)},
			want: "ignore", infoMsg: true, log: "on_unavailable=allow"},
		{name: "down, snapshot records nobody", keys: with([]string{"user=carol"}, down), args: []string{snap(nobodyPath)},
			want: "ignore", log: "records nobody"},
		{name: "down, no snapshot, deny", keys: with(plain, down), args: []string{snap("/nonexistent/nss.snapshot")},
			want: "denied", errMsg: "unavailable", log: "snapshot is unusable (snapshot /nonexistent/nss.snapshot: No such file or directory)"},
		{name: "down, no snapshot, allow", keys: with(plain, down), args: []string{"on_unavailable=allow", snap("/nonexistent")},
			want: "ignore", infoMsg: true, log: "snapshot is unusable"},
		{name: "down, snapshot corrupt", keys: with(plain, down), args: []string{snap(garbage)},
			want: "denied", errMsg: "unavailable", log: "snapshot " + garbage + ": invalid"},
		{name: "down, snapshot is a directory", keys: with(plain, down), args: []string{snap(t.TempDir())},
			want: "denied", errMsg: "unavailable", log: "not a snapshot file"},
		{name: "policyd fails, snapshot recorded", keys: with(wrapped, []string{"bus=failed", "err=decide: " + wire.ErrFailed + ": nss down"}),
			args: []string{snap(snapAlice)}, want: "denied", errMsg: "unavailable", log: "nss down"},
		{name: "untrusted owner, snapshot recorded", keys: with(wrapped, []string{"bus=failed", "err=io.vigil.Policy1 (:1.5) has uid 1000, want 0: not trusted"}),
			args: []string{snap(snapAlice)}, want: "denied", errMsg: "unavailable", log: "not trusted"},
		{name: "bad argument keeps deny", keys: with(wrapped, down), args: []string{"on_unavailable=maybe", snap(snapAlice)},
			want: "denied", errMsg: "unavailable", log: `bad argument "on_unavailable=maybe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := openSession(t, tc.keys, tc.args...)
			if !o.decided {
				t.Error("policyd was not asked")
			}
			if o.result != tc.want {
				t.Errorf("result %s, want %s", o.result, tc.want)
			}
			if !reflect.DeepEqual(o.env, tc.env) {
				t.Errorf("env %q, want %q", o.env, tc.env)
			}
			if tc.errMsg == "" && len(o.errs) > 0 || tc.errMsg != "" && (len(o.errs) != 1 || !strings.Contains(o.errs[0], tc.errMsg)) {
				t.Errorf("error messages %q, want one with %q", o.errs, tc.errMsg)
			}
			if tc.infoMsg != (len(o.infos) == 1) || len(o.infos) > 1 {
				t.Errorf("informational messages %q, want %d", o.infos, map[bool]int{true: 1}[tc.infoMsg])
			}
			if tc.log != "" && !o.hasLog("", tc.log) {
				t.Errorf("no syslog line with %q in %q", tc.log, o.logs)
			}
			if o.hasLog("7", "") {
				t.Errorf("debug line without debug: %q", o.logs)
			}
			if o.result == "denied" && !o.hasLog("3", "session denied") {
				t.Errorf("denied without an error in syslog: %q", o.logs)
			}
			// Syslog first: the user's message can block (su's stderr is
			// the invoking user's) and must not keep the log line out.
			logged := false
			for _, l := range o.lines {
				logged = logged || strings.HasPrefix(l, "log ")
				if strings.HasPrefix(l, "msg ") && !logged {
					t.Errorf("a message before any syslog line: %q", o.lines)
				}
			}
			for _, l := range o.logs {
				if strings.ContainsAny(l, "\x1b\n\a") {
					t.Errorf("control characters in syslog line %q", l)
				}
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	keys := []string{"user=alice", "service=sshd", "nss=/bin/bash", "bus=failed", "err=down"}
	o := openSession(t, keys, "debug", "quiet", "on_unavailable=allow", "snapshot=/tmp/vigil-no-such-snapshot", "snapshot=", "frobnicate")
	// quiet: no informational message; allow: ignored; snapshot= kept the
	// earlier path; debug lines are there.
	if o.result != "ignore" || len(o.infos) != 0 || !o.hasLog("4", "snapshot /tmp/vigil-no-such-snapshot:") || !o.hasLog("7", "NSS shell") {
		t.Errorf("options not applied: %+v", o)
	}
	if !o.hasLog("3", `unknown or bad argument "snapshot=" ignored`) || !o.hasLog("3", `unknown or bad argument "frobnicate" ignored`) {
		t.Errorf("problems %q, want the empty snapshot= and frobnicate", o.logs)
	}
	// The default snapshot path.
	if o := openSession(t, keys); !o.hasLog("", "snapshot "+nssdb.SnapshotPath) {
		t.Errorf("default snapshot: %q", o.logs)
	}
}

func TestOpenDebug(t *testing.T) {
	o := openSession(t, []string{"user=alice", "nss=" + recorder, "bus=ok", "record=1", "shell=/bin/bash", "recorder=" + recorder, "rule=r"}, "debug")
	if !o.hasLog("7", "policyd: record=true shell=/bin/bash") {
		t.Errorf("debug: no debug lines in %q", o.logs)
	}
}
