package recorder

import (
	"errors"

	"golang.org/x/sys/unix"
)

// The relays read and write raw file descriptors and wait in poll(2)
// themselves instead of going through Go's netpoller: on a flooding pty a
// netpoller round trip (park, epoll, futex wake-up) per 4 KiB read costs
// more than the recording itself, and a keystroke's echo crosses two
// relays, so every wake-up shows in its latency.

// errStopped means the relay was told to stop.
var errStopped = errors.New("stopped")

// stopper wakes every fdReader polling on it, for good.
type stopper struct{ efd int }

func newStopper() (*stopper, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &stopper{efd: fd}, nil
}

func (s *stopper) stop() {
	var one = [8]byte{1}
	_, _ = unix.Write(s.efd, one[:])
}

func (s *stopper) close() { _ = unix.Close(s.efd) }

// fdReader reads a descriptor, waiting in poll(2) with the stopper. A
// descriptor we own is made non-blocking and read until EAGAIN before
// polling; a shared one (our stdin) is left blocking and read only after
// poll says it is readable, so its flags never change under other processes.
type fdReader struct {
	fd       int
	stop     *stopper
	nonblock bool
}

func newFDReader(fd int, stop *stopper, own bool) (*fdReader, error) {
	r := &fdReader{fd: fd, stop: stop, nonblock: own}
	if own {
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *fdReader) Read(p []byte) (int, error) {
	for {
		if r.nonblock {
			n, err := unix.Read(r.fd, p)
			switch {
			case err == nil && n == 0:
				return 0, errEOF
			case err == nil:
				return n, nil
			case err == unix.EINTR:
				continue
			case err != unix.EAGAIN:
				return 0, err
			}
		}
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.stop.efd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			continue
		}
		if fds[1].Revents != 0 {
			return 0, errStopped
		}
		if !r.nonblock {
			n, err := unix.Read(r.fd, p)
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			if err == nil && n == 0 {
				return 0, errEOF
			}
			return n, err
		}
	}
}

var errEOF = errors.New("end of file")

// fdWriter writes all of a buffer to a descriptor, waiting in poll(2) when
// a non-blocking descriptor is full.
type fdWriter struct{ fd int }

func (w fdWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(w.fd, p[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil || err == unix.EINTR:
		case err == unix.EAGAIN:
			fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLOUT}}
			if _, perr := unix.Poll(fds, -1); perr != nil && perr != unix.EINTR {
				return done, perr
			}
		default:
			return done, err
		}
	}
	return done, nil
}
