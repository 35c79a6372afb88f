package sink

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// readJournal returns the entries with TLOG_REC=rec from the namespace's
// journal, waiting until there are n of them.
func readJournal(t *testing.T, rec string, n int) []map[string]any {
	t.Helper()
	var entries []map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// -a: without it journalctl replaces MESSAGE values over 4 KiB by null.
		out, err := exec.Command("journalctl", "-D", svctest.JournalDir, "-o", "json", "-a", "TLOG_REC="+rec).Output()
		if err != nil {
			t.Fatalf("journalctl: %v", err)
		}
		entries = entries[:0]
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("journalctl output: %v", err)
			}
			entries = append(entries, e)
		}
		if len(entries) >= n || time.Now().After(deadline) {
			return entries
		}
	}
}

func TestJournal(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	journald := svctest.StartJournald(t)
	s, err := OpenJournal("notice", true, "vigil-rec-test")
	if err != nil {
		t.Fatal(err)
	}
	ms := []*msg.Message{
		tlogMessage(t, testRec, 1, "héllo wörld 😀 ü\r\n"),
		tlogMessage(t, testRec, 2, "tab\tquote\" back\\ esc\x1b[1m\r\n"),
		// Far above the datagram limit: goes through the memfd.
		tlogMessage(t, testRec, 3, strings.Repeat("0123456789abcdeé", 20000)),
		tlogMessage(t, testRec, 4, "bye\r\n"),
	}
	// The large entry cannot be one datagram, so reaching the journal proves
	// the memfd path.
	if sndbuf, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF); err != nil || sndbuf >= len(ms[2].Line) {
		t.Fatalf("SO_SNDBUF = %d, %v: the large message would not need a memfd", sndbuf, err)
	}
	for _, m := range ms {
		if err := s.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	entries := readJournal(t, testRec, len(ms))
	if len(entries) != len(ms) {
		t.Fatalf("journal has %d entries for %s, want %d", len(entries), testRec, len(ms))
	}
	for i, e := range entries {
		m := ms[i]
		want := map[string]string{
			"MESSAGE":           strings.TrimSuffix(string(m.Line), "\n"), // as tlog sends it
			"PRIORITY":          "5",
			"SYSLOG_IDENTIFIER": "vigil-rec-test",
			"TLOG_REC":          m.Rec,
			"TLOG_USER":         m.User,
			"TLOG_SESSION":      strconv.FormatUint(uint64(m.Session), 10),
			"TLOG_ID":           strconv.FormatUint(m.ID, 10),
		}
		for k, v := range want {
			if got, ok := e[k].(string); !ok || got != v {
				t.Errorf("entry %d %s = %v, want %q", i+1, k, tail(strings.TrimSpace(string(must(json.Marshal(e[k]))))), tail(v))
			}
		}
	}

	playJournal(t, ms)

	// journald going away must be reported, not swallowed.
	if err := journald.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = journald.Wait()
	if err := s.WriteMessage(tlogMessage(t, testRec, 5, "lost")); err == nil {
		t.Error("write with journald gone succeeded")
	} else {
		t.Logf("write with journald gone: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// playJournal replays the recording from the journal with tlog-play, the
// compatibility oracle, and checks the output is the recorded output.
func playJournal(t *testing.T, ms []*msg.Message) {
	t.Helper()
	if _, err := exec.LookPath("tlog-play"); err != nil {
		t.Log("tlog-play not installed (apt-get install -y tlog): replay not checked")
		return
	}
	var want strings.Builder
	for _, m := range ms {
		var v struct {
			Out string `json:"out_txt"`
		}
		if err := json.Unmarshal(m.Line, &v); err != nil {
			t.Fatal(err)
		}
		want.WriteString(v.Out)
	}
	cmd := exec.Command("tlog-play", "-r", "journal", "-M", "TLOG_REC="+testRec)
	// tlog-play spins on a stdin at EOF; hold a pipe open instead.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		err = <-done
		t.Fatalf("tlog-play did not finish: %v; stderr: %s", err, stderr.String())
	}
	if err != nil {
		t.Fatalf("tlog-play: %v; stderr: %s", err, stderr.String())
	}
	if !strings.HasPrefix(out.String(), want.String()) {
		t.Fatalf("tlog-play output %q, want prefix %q", tail(out.String()), tail(want.String()))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestJournalNotRunning(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	// An empty /run/systemd: no journald socket at all.
	svctest.Tmpfs(t, "/run/systemd", "")
	s, err := OpenJournal("info", true, Ident)
	if err == nil {
		s.Close()
		t.Fatal("OpenJournal succeeded without journald")
	}
	if !strings.Contains(err.Error(), JournalSocket) {
		t.Errorf("error does not name the socket: %v", err)
	}
}

func TestAppendField(t *testing.T) {
	got := appendField(nil, "A", "x=y")
	got = appendField(got, "MESSAGE", "{}\n")
	want := "A=x=y\nMESSAGE\n\x03\x00\x00\x00\x00\x00\x00\x00{}\n\n"
	if string(got) != want {
		t.Fatalf("appendField = %q, want %q", got, want)
	}
}
