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
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/vigil-rec/vigil/rec/procstat"
	"github.com/vigil-rec/vigil/rec/ptyfd"
)

func main() {
	// The measuring loop keeps one thread: a goroutine that hops threads
	// around its blocking system calls adds wake-ups of ours to every
	// figure.
	runtime.LockOSThread()
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

// start runs the command on a new pty whose master is a raw descriptor:
// an os.File master would sit in Go's netpoller and wake an idle runtime
// thread of ours for every byte, which would show in every figure.
func start(args []string, raw bool) (*exec.Cmd, int, error) {
	master, slave, err := ptyfd.Open()
	if err != nil {
		return nil, -1, err
	}
	defer slave.Close()
	if raw {
		if _, err := term.MakeRaw(master); err != nil {
			unix.Close(master)
			return nil, -1, fmt.Errorf("raw: %w", err)
		}
	}
	if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Col: 120, Row: 40}); err != nil {
		unix.Close(master)
		return nil, -1, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		unix.Close(master)
		return nil, -1, err
	}
	return cmd, master, nil
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
	cmd, fd, err := start(args, false)
	if err != nil {
		return err
	}
	var n int64
	buf := make([]byte, 64<<10)
	for { // ends with EIO when the pty closes
		m, err := unix.Read(fd, buf)
		if m > 0 {
			n += int64(m)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			break
		}
	}
	unix.Close(fd)
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
	// The terminal is raw before the command starts: bytes go through
	// unchanged and come back once, from cat. A recorder copies the
	// terminal's modes to its own pty when it starts; had it copied cooked
	// modes, that pty's line discipline would echo each key itself, before
	// cat, and the figure would not include cat's round trip (script(1)
	// measured 60 instead of 105 us that way).
	cmd, fd, err := start(args, true)
	if err != nil {
		return err
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
	cpu0, err := procstat.CPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
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
	cpu1, err := procstat.CPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	// Hang up the terminal as a closing window would; some programs
	// (script) ignore a plain SIGHUP to themselves.
	// The command leads its own session: signal the whole process group.
	unix.Close(fd)
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
	// CPU per keystroke of the command itself (the recorder; cat alone for
	// the bare pty) while keys were typed: start-up and the end are left out.
	fmt.Printf("echo_p50_us=%.0f echo_p99_us=%.0f n=%d cpu_us_per_key=%.1f\n", p(0.50), p(0.99), len(lat), float64((cpu1-cpu0).Microseconds())/float64(len(lat)))
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
