package recorder

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// bufSize is the relay read size. Larger than tlog's 4 KiB: fewer encoder
// calls per megabyte when output floods.
const bufSize = 64 << 10

func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// runPTY runs cmd on a new pseudo-terminal whose settings and size are
// copied from the recorder's terminal, which is put in raw mode for the
// session and restored on every way out.
func runPTY(cmd *exec.Cmd, o *Options) (Result, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return Result{Status: 1}, fmt.Errorf("open pty: %w", err)
	}
	defer ptmx.Close()
	inFd := int(o.Stdin.Fd())
	if tio, err := unix.IoctlGetTermios(inFd, unix.TCGETS); err == nil {
		_ = unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio)
	}
	ws, _ := pty.GetsizeFull(o.Stdin)
	if ws != nil {
		_ = pty.Setsize(ptmx, ws)
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
		if err := rec.window(int(ws.Cols), int(ws.Rows)); err != nil {
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
			ws, err := pty.GetsizeFull(o.Stdin)
			if err != nil {
				continue
			}
			_ = pty.Setsize(ptmx, ws)
			if o.Conf.Log.Window {
				_ = rec.window(int(ws.Cols), int(ws.Rows))
			}
		}
	}()

	stopRelays, err := newStopper()
	if err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	defer stopRelays.close()
	ptmxFD := int(ptmx.Fd())
	if err := unix.SetNonblock(ptmxFD, true); err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	nudge, err := newStopper()
	if err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	defer nudge.close()
	loop := &ptyLoop{in: inFd, ptmx: ptmxFD, out: int(o.Stdout.Fd()), stop: stopRelays, nudge: nudge, rec: rec}

	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	outDone := make(chan error, 1)
	go func() { outDone <- loop.run() }()
	// Once the shell is gone, what it wrote is still in the pty: drain it
	// until it has been silent for drainIdle, so background jobs that keep
	// the pty open cannot hold the recording open.
	drain := func() { loop.drain(drainIdle) }

	var relayErr error
	select {
	case relayErr = <-outDone:
		if relayErr != nil {
			hangup(cmd)
		}
		<-waitOrKill(cmd, exited)
	case <-rec.dead:
		// Recording failed: end the session rather than let it run unrecorded.
		hangup(cmd)
		<-waitOrKill(cmd, exited)
		stopRelays.stop()
		relayErr = <-outDone
	case <-exited:
		drain()
		relayErr = <-outDone
	case <-stop:
		// Hang up the session the way a closed terminal would.
		hangup(cmd)
		<-waitOrKill(cmd, exited)
		drain()
		relayErr = <-outDone
	}
	return finishRun(o, rec, cmd, relayErr)
}

// drainIdle is how long the pty may stay silent after the shell exited
// before the recording ends.
const drainIdle = 200 * time.Millisecond

// relay copies src to dst, handing every chunk to rec first. It stops at
// the end of src, on a write error, or when recording fails (then nothing
// more is passed on).
func relay(src io.Reader, dst io.Writer, rec func([]byte) error) error {
	buf := make([]byte, bufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if rerr := rec(buf[:n]); rerr != nil {
				return rerr
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if err != nil {
			// EIO is how a pty master reports that the last slave closed;
			// errIdle ends the drain after the shell exited.
			return nil
		}
	}
}

// waitOrKill waits for the command, hanging up and then killing its process
// group if it does not end by itself.
func waitOrKill(cmd *exec.Cmd, exited chan struct{}) chan struct{} {
	select {
	case <-exited:
		return exited
	case <-time.After(2 * time.Second):
	}
	hangup(cmd)
	select {
	case <-exited:
		return exited
	case <-time.After(3 * time.Second):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return exited
}

// hangup sends SIGHUP to the command's process group (it leads its own
// session), as a terminal hangup would.
func hangup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP) }
