package tests

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// terminal is a program running on a pseudo-terminal that the test plays
// the user's terminal for: what it types and what it sees.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	seen bytes.Buffer
	done chan struct{}
}

func startTerminal(t *testing.T, cols, rows uint16, name string, args ...string) *terminal {
	t.Helper()
	return startTerminalCmd(t, cols, rows, exec.Command(name, args...))
}

func startTerminalCmd(t *testing.T, cols, rows uint16, cmd *exec.Cmd) *terminal {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: cols, Rows: rows})
	if err != nil {
		t.Fatalf("start %s on a pty: %v", cmd.Path, err)
	}
	term := &terminal{t: t, cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.seen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		ptmx.Close()
	})
	return term
}

func (term *terminal) screen() []byte {
	term.mu.Lock()
	defer term.mu.Unlock()
	return bytes.Clone(term.seen.Bytes())
}

func (term *terminal) typeText(s string) {
	if _, err := io.WriteString(term.ptmx, s); err != nil {
		term.t.Fatalf("type %q: %v", s, err)
	}
}

// waitFor waits until the screen shows want.
func (term *terminal) waitFor(want string, within time.Duration) {
	term.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if bytes.Contains(term.screen(), []byte(want)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	term.t.Fatalf("screen never showed %q; it shows:\n%q", want, term.screen())
}

// wait waits for the program to end and returns its exit status.
func (term *terminal) wait(within time.Duration) int {
	term.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- term.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(within):
		term.t.Fatalf("%s did not end within %v; screen:\n%q", term.cmd.Path, within, term.screen())
	}
	select {
	case <-term.done:
	case <-time.After(5 * time.Second):
		term.t.Fatalf("pty output did not end")
	}
	return term.cmd.ProcessState.ExitCode()
}

var tlogTrailer = regexp.MustCompile("\x1b\\[0m\x1b\\[\\?25h\r?\n?\x00?$")

// tlogPlay replays a recording with Debian's tlog-play on a pty and returns
// exactly what it printed, without the reset sequence it adds on exit.
func tlogPlay(t *testing.T, args ...string) []byte {
	t.Helper()
	needCmd(t, "tlog-play")
	term := startTerminal(t, 200, 50, "tlog-play", args...)
	if status := term.wait(2 * time.Minute); status != 0 {
		t.Fatalf("tlog-play %s: exit %d: %q", strings.Join(args, " "), status, term.screen())
	}
	return tlogTrailer.ReplaceAll(term.screen(), nil)
}
