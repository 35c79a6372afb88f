package nssdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Resolver decides for the socket. recorded=false with a nil error means
// "not recorded or no such user"; an error is answered with status 2.
type Resolver interface {
	ByName(name string) (e Entry, recorded bool, err error)
	ByUID(uid uint32) (e Entry, recorded bool, err error)
}

// Server answers lookup requests, one goroutine per connection, so a slow
// client or a slow resolver call never delays another client.
type Server struct {
	Resolver Resolver
	Log      *slog.Logger // nil: slog.Default()
	// IdleTimeout closes a connection that sends nothing for this long,
	// and bounds how long one request may take to arrive and its answer
	// to be taken. Default 1 s.
	IdleTimeout time.Duration
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) idle() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return time.Second
}

// Serve accepts connections until ln is closed, then closes the open
// connections, waits for their handlers and returns nil.
func (s *Server) Serve(ln net.Listener) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !transientAcceptError(err) {
				return fmt.Errorf("nss socket: %w", err)
			}
			// Out of fds or memory: wait for handlers to finish rather
			// than spin; new clients wait in the backlog meanwhile.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Warn("nss socket: accept failed, retrying", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

func transientAcceptError(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	idle := s.idle()
	r := bufio.NewReaderSize(c, frameHeader+maxName)
	var (
		req [frameHeader + maxName]byte
		out []byte
	)
	reply := func(status byte, payload []byte) error {
		c.SetWriteDeadline(time.Now().Add(idle))
		out = appendFrame(out[:0], status, payload)
		_, err := c.Write(out)
		return err
	}
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		// Waiting for the first byte separates an idle client (closed
		// silently) from a slow or truncated request (answered status 2).
		if _, err := r.Peek(1); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(idle))
		op, key, err := readRequest(r, &req)
		if err != nil {
			var msg string
			var reqErr *requestError
			switch {
			case errors.As(err, &reqErr):
				msg = reqErr.msg
			case errors.Is(err, os.ErrDeadlineExceeded):
				msg = fmt.Sprintf("request incomplete after %v", idle)
			default:
				msg = "truncated request"
			}
			s.log().Debug("nss socket: bad request", "err", msg)
			reply(statusError, []byte(msg))
			return
		}
		var (
			e        Entry
			recorded bool
			asked    slog.Attr
		)
		if op == opByName {
			asked = slog.String("name", string(key))
			e, recorded, err = s.Resolver.ByName(string(key))
		} else {
			uid := binary.LittleEndian.Uint32(key)
			asked = slog.Any("uid", uid)
			e, recorded, err = s.Resolver.ByUID(uid)
		}
		status, payload := byte(statusNotRecorded), []byte(nil)
		if err == nil && recorded {
			status = statusRecorded
			payload, err = appendEntry(nil, &e)
		}
		if err != nil {
			// The details stay in our log: the socket is world-writable.
			s.log().Warn("nss socket: lookup failed", asked, "err", err)
			status, payload = statusError, []byte("lookup failed")
		}
		if reply(status, payload) != nil {
			return
		}
	}
}

// Listen creates the socket at path, mode 0666 (passwd entries are
// public), replacing a stale socket but refusing to take over one a live
// server answers on or a file that is not a socket.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("nss socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("nss socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("nss socket %s: another server is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("nss socket: remove stale socket: %w", err)
		}
	}
	// bind(2) makes the socket 0777 &^ umask: 0666 here. A chmod by path
	// afterwards would follow a symlink the owner of the directory
	// (vigil, for /run/vigil) could put there. The umask is the process's:
	// Listen belongs at start-up, before other goroutines create files.
	old := syscall.Umask(0o111)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("nss socket: %w", err)
	}
	return ln, nil
}
