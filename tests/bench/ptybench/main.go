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
	"golang.org/x/term"
)

func main() {
	mode := flag.String("mode", "throughput", "throughput | echo")
	n := flag.Int("n", 2000, "echo: number of keystrokes")
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
	// Raw mode on our side of the terminal: bytes go through unchanged and
	// come back once, from cat (no line discipline echo).
	if _, err := term.MakeRaw(int(ptmx.Fd())); err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	// Let the recorder and cat start, then discard anything printed so far.
	time.Sleep(500 * time.Millisecond)
	_ = ptmx.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = io.Copy(io.Discard, ptmx)
	_ = ptmx.SetReadDeadline(time.Time{})

	lat := make([]time.Duration, 0, n)
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		c := byte('a' + i%26)
		t0 := time.Now()
		if _, err := ptmx.Write([]byte{c}); err != nil {
			return err
		}
		got := 0
		for got < 1 {
			m, err := ptmx.Read(buf)
			if err != nil {
				return fmt.Errorf("read echo %d: %w", i, err)
			}
			got += m
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(2 * time.Millisecond) // a fast typist, not a flood
	}
	_, _ = ptmx.Write([]byte{4}) // ^D: raw mode passes it; cat's tty is cooked by default
	_ = cmd.Process.Signal(syscall.SIGHUP)
	werr := cmd.Wait()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return werr
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	fmt.Printf("echo_p50_us=%.0f echo_p99_us=%.0f n=%d\n", p(0.50), p(0.99), len(lat))
	return nil
}
