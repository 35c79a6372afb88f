package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// waitLines waits until path holds n lines and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) == 0 {
			lines = nil
		}
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
	}
}

func TestSyslog(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	dir := t.TempDir()
	authpriv, other := filepath.Join(dir, "authpriv.log"), filepath.Join(dir, "other.log")
	// The template keeps the raw message; rsyslog puts the space after the
	// tag's colon into %msg%.
	rsyslogd := svctest.StartRsyslog(t, 512<<10, fmt.Sprintf(`
template(name="raw" type="string" string="%%syslogfacility-text%%.%%syslogseverity-text%% %%syslogtag%%%%msg%%\n")
authpriv.* action(type="omfile" file=%q template="raw")
*.*;authpriv.none action(type="omfile" file=%q template="raw")
`, authpriv, other))

	s, err := OpenSyslog("authpriv", "notice", "vigil-rec")
	if err != nil {
		t.Fatal(err)
	}
	ms := []*msg.Message{
		tlogMessage(t, testRec, 1, "héllo wörld 😀 ü\r\n"),
		tlogMessage(t, testRec, 2, "tab\tquote\" back\\ esc\x1b[1m\r\n"),
		tlogMessage(t, testRec, 3, strings.Repeat("0123456789abcdeé", 6000)), // ~100 KB
	}
	for _, m := range ms {
		if err := s.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	lines := waitLines(t, authpriv, len(ms))
	if len(lines) != len(ms) {
		t.Fatalf("%s has %d lines, want %d", authpriv, len(lines), len(ms))
	}
	for i, l := range lines {
		want := fmt.Sprintf("authpriv.notice vigil-rec[%d]: %s", os.Getpid(), strings.TrimSuffix(string(ms[i].Line), "\n"))
		if l != want {
			t.Errorf("line %d = %q, want %q", i+1, tail(l), tail(want))
		}
	}
	if data, err := os.ReadFile(other); err == nil && strings.Contains(string(data), "vigil-rec") {
		t.Errorf("messages reached another facility: %s", data)
	}

	// A syslog daemon that is gone must be reported.
	if err := rsyslogd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = rsyslogd.Wait()
	if err := s.WriteMessage(tlogMessage(t, testRec, 4, "lost")); err == nil {
		t.Error("write with rsyslogd gone succeeded")
	} else {
		t.Logf("write with rsyslogd gone: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Logf("close after rsyslogd is gone: %v", err)
	}
}

func TestSyslogBadNames(t *testing.T) {
	for _, tc := range [][3]string{
		{"bogus", "info", "vigil-rec"},
		{"authpriv", "verbose", "vigil-rec"},
		{"AUTHPRIV", "info", "vigil-rec"}, // tlog's names are lower case
		{"authpriv", "info", ""},
	} {
		if s, err := OpenSyslog(tc[0], tc[1], tc[2]); err == nil {
			s.Close()
			t.Errorf("OpenSyslog%q succeeded", tc)
		}
	}
}

func TestParsePriority(t *testing.T) {
	for i, name := range []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"} {
		if got, err := ParsePriority(name); err != nil || got != i {
			t.Errorf("ParsePriority(%q) = %d, %v; want %d", name, got, err, i)
		}
	}
	if _, err := ParsePriority("error"); err == nil {
		t.Error(`ParsePriority("error") succeeded`)
	}
}

var _ msg.Sink = (*Syslog)(nil)
