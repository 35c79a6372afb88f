package recorder

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/vigil-rec/vigil/rec/ptyfd"
)

// bufSize is the relay read size. Larger than tlog's 4 KiB: fewer encoder
// calls per megabyte when output floods.
const bufSize = 64 << 10

func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// runPTY runs cmd on a new pseudo-terminal whose settings and size are
// copied from the recorder's terminal, which is put in raw mode for the
// session and restored on every way out.
func runPTY(cmd *exec.Cmd, o *Options) (Result, error) {
	ptmxFD, tty, err := ptyfd.Open()
	if err != nil {
		return Result{Status: 1}, err
	}
	defer unix.Close(ptmxFD)
	inFd := int(o.Stdin.Fd())
	if tio, err := unix.IoctlGetTermios(inFd, unix.TCGETS); err == nil {
		_ = unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio)
	}
	ws, _ := unix.IoctlGetWinsize(inFd, unix.TIOCGWINSZ)
	if ws != nil {
		_ = unix.IoctlSetWinsize(ptmxFD, unix.TIOCSWINSZ, ws)
	}

	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0

	rec := newRecording(o, o.Stderr)
	if ws != nil && o.Conf.Log.Window {
		// The first packet of a terminal recording is its size.
		if err := rec.window(int(ws.Col), int(ws.Row)); err != nil {
			return Result{Status: 1}, err
		}
	}
	// SIGWINCH is registered before the child starts so no resize is missed.
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)

	if err := cmd.Start(); err != nil {
		tty.Close()
		return Result{Status: 127}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	tty.Close()
	if err := startHook(o, rec, cmd, "pty"); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return Result{Status: 1}, err
	}

	state, err := term.MakeRaw(inFd)
	if err == nil {
		defer term.Restore(inFd, state)
	}

	go func() {
		for range winch {
			ws, err := unix.IoctlGetWinsize(inFd, unix.TIOCGWINSZ)
			if err != nil {
				continue
			}
			_ = unix.IoctlSetWinsize(ptmxFD, unix.TIOCSWINSZ, ws)
			if o.Conf.Log.Window {
				_ = rec.window(int(ws.Col), int(ws.Row))
			}
		}
	}()

	stopRelays, err := newStopper()
	if err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	defer stopRelays.close()
	if err := unix.SetNonblock(ptmxFD, true); err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	// The loop learns of the shell's exit from a pidfd in its poll set, not
	// from a goroutine blocked in wait: that goroutine would hold a runtime
	// P in a system call and make the scheduler hand Ps around on every
	// keystroke.
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("pidfd: %w", err)
	}
	defer unix.Close(pidfd)
	loop := &ptyLoop{in: inFd, ptmx: ptmxFD, out: int(o.Stdout.Fd()), child: pidfd, stop: stopRelays, rec: rec}
	outDone := make(chan error, 1)
	go func() {
		// One thread for the whole session: a loop that hops threads at
		// every reschedule loses the scheduler's sense of where to wake
		// it, and each keystroke then crosses CPUs more often.
		runtime.LockOSThread()
		outDone <- loop.run()
	}()

	var relayErr error
	select {
	case relayErr = <-outDone:
		// The shell exited and the pty was drained, or the pty or the user's
		// terminal closed, or recording failed.
		if relayErr != nil {
			hangup(cmd)
		}
	case <-rec.dead:
		// Recording failed: end the session rather than let it run unrecorded.
		hangup(cmd)
		stopRelays.stop()
		relayErr = <-outDone
	case <-stop:
		// Hang up the session the way a closed terminal would; the loop
		// drains what the shell still writes.
		hangup(cmd)
		go escalate(cmd, pidfd)
		relayErr = <-outDone
	}
	waitOrKill(cmd, pidfd)
	return finishRun(o, rec, cmd, relayErr)
}

// waitOrKill waits for the command, hanging up and then killing its process
// group if it does not end by itself.
func waitOrKill(cmd *exec.Cmd, pidfd int) {
	escalate(cmd, pidfd)
	_ = cmd.Wait()
}

// escalate returns once the command has exited, hanging up its process
// group after 2 s and killing it 3 s later.
func escalate(cmd *exec.Cmd, pidfd int) {
	if exitedWithin(pidfd, 2*time.Second) {
		return
	}
	hangup(cmd)
	if exitedWithin(pidfd, 3*time.Second) {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	exitedWithin(pidfd, -1)
}

// exitedWithin polls a pidfd; d < 0 waits for ever.
func exitedWithin(pidfd int, d time.Duration) bool {
	ms := -1
	if d >= 0 {
		ms = int(d.Milliseconds())
	}
	for {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// hangup sends SIGHUP to the command's process group (it leads its own
// session), as a terminal hangup would.
func hangup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP) }
