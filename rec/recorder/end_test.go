package recorder

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// lineSink keeps every line.
type lineSink struct {
	mu    sync.Mutex
	lines [][]byte
}

func (s *lineSink) WriteMessage(m *msg.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, bytes.Clone(m.Line))
	return nil
}

func (s *lineSink) Close() error { return nil }

// testStdio is a command's standard input (/dev/null) and a file that
// takes its output, closed when t ends.
func testStdio(t *testing.T) (devnull, out *os.File) {
	t.Helper()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { devnull.Close() })
	out, err = os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return devnull, out
}

// A command that exits and leaves a job behind holding its output: the
// session ends at once (the job is ended, not waited for), the final
// message says so, and the exit status is the command's.
func TestLeftoverEnded(t *testing.T) {
	devnull, out := testStdio(t)
	var signals []syscall.Signal
	var mu sync.Mutex
	s := &lineSink{}
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & echo job=$!; exit 3")
	o := Options{
		Conf: conf.DefaultRec(), Meta: tlog.Meta{Host: "h", Rec: "r", User: "u"}, Sink: s,
		Stdin: devnull, Stdout: out, Stderr: out,
	}
	// What policyd does for vigil-rec-session; here sh's job shares its
	// process group.
	o.Session = func(sig syscall.Signal) (int, error) {
		mu.Lock()
		signals = append(signals, sig)
		mu.Unlock()
		if syscall.Kill(-cmd.Process.Pid, sig) != nil {
			return 0, nil
		}
		return 1, nil
	}
	start := time.Now()
	res, err := Run(cmd, o)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the recording waited %v for the job", took)
	}
	if res.Status != 3 {
		t.Errorf("status %d, want 3", res.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signals) == 0 || signals[len(signals)-1] != syscall.SIGKILL {
		t.Errorf("the session was signalled %v, want ending in SIGKILL", signals)
	}
	last := s.lines[len(s.lines)-1]
	var m struct {
		Vigil struct {
			Meta endMeta `json:"meta"`
		} `json:"vigil"`
	}
	if err := json.Unmarshal(last, &m); err != nil {
		t.Fatal(err)
	}
	if e := m.Vigil.Meta.Ended; e == nil || e.Killed == 0 || m.Vigil.Meta.Exit != 3 {
		t.Errorf("final message %s: want exit 3 and the job killed", last)
	}
	data, _ := os.ReadFile(out.Name())
	pid := strings.TrimSpace(strings.TrimPrefix(string(data), "job="))
	if stat, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !bytes.Contains(stat, []byte(") Z ")) {
		t.Errorf("the job %s still runs: %s", pid, stat)
	}
}
