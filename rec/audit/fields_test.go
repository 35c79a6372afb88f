package audit

import (
	"encoding/hex"
	"fmt"
	"github.com/vigil-rec/vigil/rec/auditrules"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// records parses log lines of the form "TYPE audit(...): body", as the
// kernel sent them on this machine (Linux 6.18, x86_64).
func records(t *testing.T, lines ...string) []*auparse.AuditMessage {
	t.Helper()
	var msgs []*auparse.AuditMessage
	for _, l := range lines {
		typ, data, _ := strings.Cut(l, " ")
		mt, err := auparse.GetAuditMessageType(typ)
		if err != nil {
			t.Fatalf("type %q: %v", typ, err)
		}
		m, err := auparse.Parse(mt, data)
		if err != nil {
			t.Fatalf("parse %q: %v", l, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestJoinExec(t *testing.T) {
	ev := joinEvent(records(t,
		`SYSCALL audit(1796509706.148:2): arch=c000003e syscall=59 success=yes exit=0 a0=563e01135b38 a1=563e01135bc8 a2=563e01135bf8 a3=8 items=2 ppid=2000 pid=2001 auid=4242 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts3 ses=3327 comm="echo" exe="/usr/bin/echo" key="vigil-exec"`,
		`BPRM_FCAPS audit(1796509706.148:2): fver=0 fp=0 fi=0 fe=0 old_pp=000001fffeffffff old_pi=0 old_pe=000001fffeffffff old_pa=0 pp=000001fffeffffff pi=0 pe=000001fffeffffff pa=0 frootid=0`,
		`EXECVE audit(1796509706.148:2): argc=5 a0="/bin/echo" a1=612062 a2=7122756F7465 a3="" a4="ok"`,
		`CWD audit(1796509706.148:2): cwd=2F746D702F6120646972`,
		`PATH audit(1796509706.148:2): item=0 name="/bin/echo" inode=247141 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		`PATH audit(1796509706.148:2): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=325835 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		`PROCTITLE audit(1796509706.148:2): proctitle=2F62696E2F6563686F00612062007122756F746500006F6B`,
	))
	if ev == nil {
		t.Fatal("no event")
	}
	want := []string{"/bin/echo", "a b", `q"uote`, "", "ok"}
	if !slices.Equal(ev.Argv, want) {
		t.Errorf("argv %q, want %q", ev.Argv, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"serial", ev.Serial, uint32(2)},
		{"time", ev.Time.UnixMilli(), int64(1796509706148)},
		{"syscall", ev.Syscall, "execve"},
		{"arch", ev.Arch, "x86_64"},
		{"pid", ev.PID, 2001},
		{"ppid", ev.PPID, 2000},
		{"auid", ev.AUID, uint32(4242)},
		{"ses", ev.Session, uint32(3327)},
		{"tty", ev.TTY, "pts3"},
		{"cwd", ev.Cwd, "/tmp/a dir"},
		{"exe", ev.Exe, "/usr/bin/echo"},
		{"executable", ev.Executable, "/bin/echo"},
		{"comm", ev.Comm, "echo"},
		{"success", ev.Success, true},
		{"exit", ev.Exit, int64(0)},
		{"keys", fmt.Sprint(ev.Keys), "[vigil-exec]"},
		{"proctitle", ev.Proctitle, `/bin/echo a b q"uote  ok`},
		{"incomplete", ev.Incomplete, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestJoinFailedExec(t *testing.T) {
	ev := joinEvent(records(t,
		`SYSCALL audit(1796509706.152:3): arch=c000003e syscall=59 success=no exit=-2 a0=563e01135b38 a1=563e01135b80 a2=563e01135b98 a3=8 items=1 ppid=2000 pid=2002 auid=4242 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3327 comm="sh" exe="/usr/bin/dash" key="vigil-exec"`,
		`CWD audit(1796509706.152:3): cwd="/tmp"`,
		`PATH audit(1796509706.152:3): item=0 name="/nonexistent/prog" nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		`PROCTITLE audit(1796509706.152:3): proctitle=7368002D63002F6E6F6E6578697374656E742F70726F67`,
	))
	if ev == nil {
		t.Fatal("no event")
	}
	if ev.Success || ev.Exit != -2 || ev.Errno() != syscall.ENOENT || ev.Argv != nil || ev.Incomplete {
		t.Errorf("failed exec: %+v", ev)
	}
	if ev.Executable != "/nonexistent/prog" || ev.TTY != "" || ev.Proctitle != "sh -c /nonexistent/prog" {
		t.Errorf("failed exec: executable %q tty %q proctitle %q", ev.Executable, ev.TTY, ev.Proctitle)
	}
}

// The kernel splits an argument that does not fit in the record into
// hex pieces (aN_len, aN[0], aN[1], ...) that may run over several EXECVE
// records; quoted pieces happen too when a record is nearly full.
func TestJoinSplitArgs(t *testing.T) {
	long := strings.Repeat("x", 9000)
	h := strings.ToUpper(hex.EncodeToString([]byte(long)))
	body := func(s string) string { return "EXECVE audit(1796509706.164:6): " + s }
	lines := []string{
		`SYSCALL audit(1796509706.164:6): arch=40000003 syscall=11 success=yes exit=0 a0=1 a1=2 a2=3 a3=8 items=1 ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=7 comm=74727565206E616D65 exe="/usr/bin/true" key=` + strings.ToUpper(hex.EncodeToString([]byte("vigil-exec\x01other"))),
		body(`argc=4 a0="/bin/true" a1_len=18000 a1[0]=` + h[:7000]),
		body(` a1[1]=` + h[7000:14000]),
		body(` a1[2]=` + h[14000:] + ` a2_len=6 a2[0]="abc" a2[1]="def" a3=C3A9`),
		`CWD audit(1796509706.164:6): cwd="/"`,
		`PATH audit(1796509706.164:6): item=0 name=2F746D702F612062 inode=1 nametype=NORMAL`,
		`PROCTITLE audit(1796509706.164:6): proctitle="true"`,
	}
	ev := joinEvent(records(t, lines...))
	if ev == nil {
		t.Fatal("no event")
	}
	if ev.Incomplete {
		t.Errorf("incomplete: %q", ev.Problems)
	}
	if len(ev.Argv) != 4 || ev.Argv[1] != long || ev.Argv[2] != "abcdef" || ev.Argv[3] != "é" {
		t.Errorf("argv lengths %d, a2 %q a3 %q", len(ev.Argv), ev.Argv[2], ev.Argv[3])
	}
	if ev.Arch != "i386" || ev.Syscall != "execve" || ev.Comm != "true name" || ev.Executable != "/tmp/a b" {
		t.Errorf("arch %q syscall %q comm %q executable %q", ev.Arch, ev.Syscall, ev.Comm, ev.Executable)
	}
	if !slices.Equal(ev.Keys, []string{auditrules.Key, "other"}) {
		t.Errorf("keys %q", ev.Keys)
	}

	// Lose the middle EXECVE record: the event still arrives, marked.
	ev = joinEvent(records(t, append(append([]string{}, lines[:2]...), lines[3:]...)...))
	if ev == nil || !ev.Incomplete || len(ev.Argv) != 4 {
		t.Fatalf("event without its middle EXECVE record: %+v", ev)
	}
	if !strings.Contains(strings.Join(ev.Problems, "; "), "argument 1: piece 1 missing") {
		t.Errorf("problems %q", ev.Problems)
	}
}

func TestJoinIncomplete(t *testing.T) {
	// Only the EXECVE record arrived: still an exec, reported incomplete.
	ev := joinEvent(records(t, `EXECVE audit(1.000:9): argc=1 a0="ls"`))
	if ev == nil || !ev.Incomplete || !slices.Equal(ev.Argv, []string{"ls"}) || ev.Syscall != "" {
		t.Fatalf("EXECVE alone: %+v", ev)
	}
	// The tail of an event whose SYSCALL and EXECVE records were lost: it
	// may have been an exec, and it must not vanish.
	ev = joinEvent(records(t,
		`CWD audit(1.000:11): cwd="/home/u"`,
		`PATH audit(1.000:11): item=0 name="/bin/true" inode=1 nametype=NORMAL`,
		`PROCTITLE audit(1.000:11): proctitle="/bin/true"`,
	))
	if ev == nil || !ev.Incomplete || ev.Cwd != "/home/u" || ev.Executable != "/bin/true" || ev.Argv != nil {
		t.Fatalf("event tail: %+v", ev)
	}
	// A successful exec whose EXECVE and PROCTITLE records are missing.
	ev = joinEvent(records(t,
		`SYSCALL audit(1.000:10): arch=c000003e syscall=322 success=yes exit=0 items=1 ppid=1 pid=2 auid=5 uid=5 gid=5 euid=5 egid=5 tty=(none) ses=1 comm="x" exe="/x" key="vigil-exec"`,
		`CWD audit(1.000:10): cwd="/"`,
	))
	if ev == nil || !ev.Incomplete || ev.Syscall != "execveat" || len(ev.Problems) != 3 {
		t.Fatalf("SYSCALL+CWD only: %+v", ev)
	}
	// Not an exec at all: a login's write to /proc/self/loginuid.
	if ev := joinEvent(records(t,
		`LOGIN audit(1.000:1): pid=2000 uid=0 old-auid=4294967295 auid=4242 tty=(none) old-ses=4294967295 ses=3327 res=1`,
		`SYSCALL audit(1.000:1): arch=c000003e syscall=1 success=yes exit=5 a0=1 items=0 ppid=1993 pid=2000 auid=4242 uid=0 ses=3327 comm="sh" exe="/usr/bin/dash" key=(null)`,
		`PROCTITLE audit(1.000:1): proctitle="sh"`,
	)); ev != nil {
		t.Errorf("a loginuid write became an event: %v", ev)
	}
}

func TestParseArgKey(t *testing.T) {
	for key, want := range map[string][3]int{
		"a0": {0, argWhole, 0}, "a12": {12, argWhole, 0}, "a3_len": {3, argLen, 0}, "a3[14]": {3, argPart, 14},
	} {
		n, kind, idx, ok := parseArgKey(key)
		if !ok || [3]int{n, kind, idx} != want {
			t.Errorf("parseArgKey(%q) = %d %d %d %v", key, n, kind, idx, ok)
		}
	}
	for _, key := range []string{"argc", "a", "a_len", "ab", "a1[", "a1[x]", "a1x"} {
		if _, _, _, ok := parseArgKey(key); ok {
			t.Errorf("parseArgKey(%q) accepted", key)
		}
	}
}
