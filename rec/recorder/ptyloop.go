package recorder

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// ptyLoop relays a terminal session on one thread, the way script(1) and
// tlog do: a single poll(2) over the user's terminal, the pty master, the
// shell's pidfd and the stop event. A keystroke and its echo are then
// handled by the same thread without any goroutine hand-off, which is what
// keystroke latency is made of.
type ptyLoop struct {
	in, ptmx, out int // user's terminal input, pty master, user's terminal output
	child         int // pidfd of the shell: readable once it exited
	stop          *stopper
	rec           *recording
}

// drainIdle is how long the pty may stay silent after the shell exited
// before the recording ends.
const drainIdle = 200 * time.Millisecond

func (l *ptyLoop) run() error {
	buf := make([]byte, bufSize)
	inBuf := make([]byte, 4096)
	var pend []byte // typed input the pty has not taken yet
	inOpen, childRunning := true, true
	// Allocated once: a per-iteration slice escapes to the heap, and the
	// garbage it makes wakes the runtime's GC workers on a busy terminal.
	fds := make([]unix.PollFd, 4)
	lastYield := time.Now()
	for {
		// Yield every few milliseconds: a goroutine that never reschedules
		// counts as running for ever, and after 10 ms the runtime's sysmon
		// takes its P away on every blocking poll (and wakes every 20 µs
		// itself), which costs context switches on every keystroke.
		if now := time.Now(); now.Sub(lastYield) > 5*time.Millisecond {
			lastYield = now
			runtime.Gosched()
		}
		fds[0] = unix.PollFd{Fd: int32(l.ptmx), Events: unix.POLLIN}
		if len(pend) > 0 {
			fds[0].Events |= unix.POLLOUT
		}
		fds[1] = unix.PollFd{Fd: int32(l.stop.efd), Events: unix.POLLIN}
		fds[2] = unix.PollFd{Fd: -1}
		watchIn := inOpen && len(pend) == 0 && childRunning
		if watchIn {
			fds[2] = unix.PollFd{Fd: int32(l.in), Events: unix.POLLIN}
		}
		fds[3] = unix.PollFd{Fd: -1}
		timeout := int(drainIdle.Milliseconds())
		if childRunning {
			fds[3] = unix.PollFd{Fd: int32(l.child), Events: unix.POLLIN}
			timeout = -1
		}
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // drained: silent for drainIdle after the shell exited
		}
		if fds[1].Revents != 0 {
			return nil
		}
		if fds[3].Revents != 0 {
			// The shell is gone; what it wrote is still in the pty. Drain it
			// until it has been silent for drainIdle, so background jobs
			// that keep the pty open cannot hold the recording open.
			childRunning = false
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
			m, err := unix.Read(l.ptmx, buf)
			switch {
			case m > 0:
				if err := l.rec.output(streamOut, buf[:m]); err != nil {
					return err
				}
				if _, err := (fdWriter{l.out}).Write(buf[:m]); err != nil {
					return nil // the user's terminal is gone
				}
			case err == unix.EAGAIN || err == unix.EINTR:
			default:
				return nil // EIO: the last slave closed
			}
		}
		if len(pend) > 0 && fds[0].Revents&unix.POLLOUT != 0 {
			w, err := unix.Write(l.ptmx, pend)
			if w > 0 {
				pend = pend[w:]
			}
			if err != nil && err != unix.EAGAIN && err != unix.EINTR {
				pend = nil
			}
		}
		if watchIn && fds[2].Revents != 0 {
			m, err := unix.Read(l.in, inBuf)
			switch {
			case m > 0:
				if err := l.rec.input(inBuf[:m]); err != nil {
					return err
				}
				// Pass it on now if the pty takes it; otherwise hold it and
				// keep relaying output, so a paste into a busy shell cannot
				// deadlock the two directions.
				w, werr := unix.Write(l.ptmx, inBuf[:m])
				if w < 0 {
					w = 0
				}
				if w < m && (werr == nil || werr == unix.EAGAIN || werr == unix.EINTR) {
					pend = append(pend[:0], inBuf[w:m]...)
				}
			case err == unix.EAGAIN || err == unix.EINTR:
			default:
				inOpen = false // EOF or error: the user's terminal went away
			}
		}
	}
}
