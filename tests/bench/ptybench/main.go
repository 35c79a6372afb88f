// Command ptybench measures a command the way a user's terminal sees it: it
// runs the command on a fresh pseudo-terminal and either drains its output
// as fast as possible (throughput) or types bytes one at a time and waits
// for each echo (keystroke latency). Used by tests/bench/recorder.sh to
// compare no recorder, script(1), tlog-rec and vigil-rec in one run.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func main() {
	mode := flag.String("mode", "throughput", "throughput | echo")
	n := flag.Int("n", 2000, "echo: number of keystrokes")
	gap = flag.Duration("gap", 2*time.Millisecond, "echo: pause between keystrokes (a fast typist, not a flood)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: ptybench [-mode throughput|echo] CMD [ARG...]")
		os.Exit(2)
	}
	var err error
	switch *mode {
	case "throughput":
		err = throughput(flag.Args())
	case "echo":
		err = echo(flag.Args(), *n)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ptybench:", err)
		os.Exit(1)
	}
}

var gap *time.Duration

func start(args []string) (*exec.Cmd, *os.File, error) {
	cmd := exec.Command(args[0], args[1:]...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	return cmd, ptmx, err
}

// usage reports the child's CPU time and peak RSS from wait4.
func usage(cmd *exec.Cmd) (cpu time.Duration, maxRSSKiB int64) {
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, ru.Maxrss
}

func throughput(args []string) error {
	t0 := time.Now()
	cmd, ptmx, err := start(args)
	if err != nil {
		return err
	}
	n, _ := io.Copy(io.Discard, ptmx) // ends with EIO when the pty closes
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	wall := time.Since(t0)
	cpu, rss := usage(cmd)
	fmt.Printf("wall_s=%.3f cpu_s=%.3f maxrss_kib=%d out_bytes=%d\n", wall.Seconds(), cpu.Seconds(), rss, n)
	return nil
}

// echo types one byte at a time into an interactive `cat` (possibly behind a
// recorder) and times until the byte comes back.
func echo(args []string, n int) error {
	cmd, ptmx, err := start(args)
	if err != nil {
		return err
	}
	// Raw descriptor I/O with poll(2), so the measurement has no goroutine
	// hand-offs of its own.
	fd := int(ptmx.Fd())
	// Raw mode on our side of the terminal: bytes go through unchanged and
	// come back once, from cat (no line discipline echo).
	if _, err := term.MakeRaw(fd); err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	// Let the recorder and cat start, then discard anything printed so far.
	time.Sleep(500 * time.Millisecond)
	buf := make([]byte, 4096)
	for waitReadable(fd, 100) {
		if _, err := unix.Read(fd, buf); err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		c := []byte{byte('a' + i%26)}
		t0 := time.Now()
		if _, err := unix.Write(fd, c); err != nil {
			return err
		}
		if !waitReadable(fd, 5000) {
			return fmt.Errorf("keystroke %d: no echo within 5 s", i)
		}
		if _, err := unix.Read(fd, buf); err != nil {
			return fmt.Errorf("read echo %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(*gap)
	}
	// Hang up the terminal as a closing window would; some programs
	// (script) ignore a plain SIGHUP to themselves.
	// The command leads its own session: signal the whole process group.
	ptmx.Close()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-exited
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return werr
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	fmt.Printf("echo_p50_us=%.0f echo_p99_us=%.0f n=%d\n", p(0.50), p(0.99), len(lat))
	return nil
}

// waitReadable polls fd for input for up to ms milliseconds.
func waitReadable(fd, ms int) bool {
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}
