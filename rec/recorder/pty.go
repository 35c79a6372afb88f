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
	// The pidfd comes from clone itself: the reaper may reap the shell the
	// moment it exits, before a pidfd_open could name it.
	pidfd := -1
	cmd.SysProcAttr.PidFD = &pidfd

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
	reap := newReaper()

	if err := cmd.Start(); err != nil {
		reap.stop()
		tty.Close()
		return Result{Status: 127}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	tty.Close()
	defer unix.Close(pidfd)
	reap.watch(cmd.Process.Pid)
	end := newEnder(cmd, reap, o, ptmxFD)
	if err := startHook(o, rec, cmd, "pty"); err != nil {
		end.send(syscall.SIGKILL)
		end.finish()
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
	if err == nil {
		err = unix.SetNonblock(ptmxFD, true)
	}
	if err != nil {
		end.send(syscall.SIGKILL)
		end.finish()
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	defer stopRelays.close()
	// The loop learns of the shell's exit from the pidfd in its poll set, not
	// from a goroutine blocked in wait: that goroutine would hold a runtime
	// P in a system call and make the scheduler hand Ps around on every
	// keystroke.
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
	relayed := false
	select {
	case relayErr = <-outDone:
		// The shell exited and the pty was drained, or the pty or the user's
		// terminal closed, or recording failed.
		relayed = true
		select {
		case <-reap.done:
		default:
			// Still running: recording failed or the user's terminal is
			// gone, and nobody will type into this session again.
			end.hangup()
		}
	case <-reap.done:
		// The shell exited; the loop drains the pty while what the
		// session left behind is ended below.
	case <-rec.dead:
		// Recording failed: end the session rather than let it run unrecorded.
		end.hangup()
		stopRelays.stop()
	case <-stop:
		// Hang up the session the way a closed terminal would; the loop
		// drains what the shell still writes.
		end.hangup()
	}
	end.waitCommand()
	end.sweep()
	if !relayed {
		// Everything that held the pty open is gone now; a process of the
		// user's from outside the session could still hold it.
		select {
		case relayErr = <-outDone:
		case <-time.After(commandHangup):
			stopRelays.stop()
			relayErr = <-outDone
		}
	}
	return finishRun(o, rec, end, relayErr)
}
