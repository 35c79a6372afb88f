package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DecideOnce asks policyd for the decision on a session of user opened by
// PAM service service from rhost on tty (Decide, policyd/spec/dbus.md), on
// a system bus connection of its own that is closed before it returns. As
// dbusapi.Client does, it trusts the answer only from the unique name that
// owns BusName and that the bus says is uid 0, and an unknown user is an
// *Error named ErrNoSuchUser.
//
// pam_vigil calls it at every login, inside the login program, so it is
// built for latency: it sends the authentication, BEGIN, Hello and
// GetNameOwner in one write (as sd-bus pipelines them), then
// GetConnectionUnixUser and Decide in a second, two round trips where
// godbus takes six, in blocking system calls on the calling thread, with no
// goroutine. ctx must have a deadline: it bounds every wait.
func DecideOnce(ctx context.Context, user, service, rhost, tty string) (Decision, error) {
	return decideOnce(ctx, 0, user, service, rhost, tty)
}

// The bus daemon's own name and object.
const (
	busDaemon = "org.freedesktop.DBus"
	busPath   = "/org/freedesktop/DBus"
)

// decideOnce is DecideOnce trusting an owner of uid trustUID (tests).
func decideOnce(ctx context.Context, trustUID uint32, user, service, rhost, tty string) (Decision, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return Decision{}, fmt.Errorf("%w: DecideOnce needs a deadline", ErrUnavailable)
	}
	x, err := dialBus(deadline, SystemBusAddress())
	if err != nil {
		return Decision{}, fmt.Errorf("%w: system bus: %w", ErrUnavailable, err)
	}
	defer x.close()
	failed := func(what string, err error) (Decision, error) {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}

	// EXTERNAL with our uid, which the bus checks against the socket's
	// peer credentials.
	x.out = append(x.out, "\x00AUTH EXTERNAL "+hex.EncodeToString([]byte(strconv.Itoa(os.Geteuid())))+"\r\nBEGIN\r\n"...)
	hello := x.call(busDaemon, busPath, busDaemon, "Hello")
	ownerCall := x.call(busDaemon, busPath, busDaemon, "GetNameOwner", BusName)
	if err := x.flush(ctx); err != nil {
		return failed("system bus handshake", err)
	}
	line, err := x.in.ReadSlice('\n')
	if err != nil {
		return failed("system bus handshake", err)
	}
	if !bytes.HasPrefix(line, []byte("OK ")) {
		return failed("system bus handshake", fmt.Errorf("authentication refused: %q", bytes.TrimSpace(line)))
	}
	replies, err := x.await(ctx, hello, ownerCall)
	if err != nil {
		return failed("system bus handshake", err)
	}
	if err := replies[0].err(); err != nil {
		return failed("hello", err)
	}
	args := replies[1].argsOf("s")
	owner := args.string()
	if args.err != nil {
		return Decision{}, fmt.Errorf("owner of %s: %w", BusName, args.err)
	}

	// As in dbusapi.Client: the uid check and the call at once, the call
	// sent to the unique name that is checked.
	uidCall := x.call(busDaemon, busPath, busDaemon, "GetConnectionUnixUser", owner)
	decide := x.call(owner, Path, Interface, "Decide", user, service, rhost, tty)
	if err := x.flush(ctx); err != nil {
		return failed("decide", err)
	}
	if replies, err = x.await(ctx, uidCall, decide); err != nil {
		return failed("decide", err)
	}
	args = replies[0].argsOf("u")
	uid := args.uint32()
	if args.err != nil {
		return Decision{}, fmt.Errorf("uid of %s (%s): %w", BusName, owner, args.err)
	}
	if uid != trustUID {
		return Decision{}, fmt.Errorf("%w: %s (%s) has uid %d, want %d", ErrUntrusted, BusName, owner, uid, trustUID)
	}
	args = replies[1].argsOf("bssss")
	d := Decision{Record: args.bool(), Shell: args.string(), Recorder: args.string(), Conf: args.string(), Rule: args.string()}
	if args.err != nil {
		return Decision{}, fmt.Errorf("decide %s (service %q): %w", user, service, args.err)
	}
	return d, nil
}

// busAddresses are the socket paths of a D-Bus address list, in order;
// "@name" is an abstract socket. A system bus listens on unix path= or
// abstract= addresses; other kinds are left out.
func busAddresses(addr string) []string {
	var paths []string
	for a := range strings.SplitSeq(addr, ";") {
		kind, params, _ := strings.Cut(a, ":")
		if kind != "unix" {
			continue
		}
		for kv := range strings.SplitSeq(params, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v, ok := unescapeAddress(v)
			switch {
			case !ok || v == "":
			case k == "path":
				paths = append(paths, v)
			case k == "abstract":
				paths = append(paths, "@"+v)
			}
		}
	}
	return paths
}

// unescapeAddress undoes the %XX escapes of a D-Bus address value.
func unescapeAddress(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		v, err := hex.DecodeString(s[min(i+1, len(s)):min(i+3, len(s))])
		if err != nil || len(v) != 1 {
			return "", false
		}
		b.WriteByte(v[0])
		i += 2
	}
	return b.String(), true
}

// busConn is a blocking unix socket to the bus, every wait bounded by
// deadline. Its methods run on the calling thread: a goroutine blocked
// in a cgo callback (pam_vigil) cannot be parked without handing its
// thread over to another one and back.
type busConn struct {
	fd       int
	deadline time.Time
	in       *bufio.Reader
	out      []byte // what the next flush sends
	serial   uint32
}

// dialBus connects to the first of addr's sockets that accepts.
func dialBus(deadline time.Time, addr string) (*busConn, error) {
	paths := busAddresses(addr)
	if len(paths) == 0 {
		return nil, fmt.Errorf("%q: no unix socket address", addr)
	}
	var errs []error
	for _, p := range paths {
		x, err := dialUnix(deadline, p)
		if err == nil {
			return x, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, err))
	}
	return nil, errors.Join(errs...)
}

func dialUnix(deadline time.Time, path string) (*busConn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	x := &busConn{fd: fd, deadline: deadline}
	x.in = bufio.NewReader(x)
	if err := x.retry(unix.SO_SNDTIMEO, func() error { return unix.Connect(fd, &unix.SockaddrUnix{Name: path}) }); err != nil {
		x.close()
		return nil, err
	}
	return x, nil
}

func (x *busConn) close() { unix.Close(x.fd) }

// retry runs the system call op with the socket timeout opt (SO_RCVTIMEO or
// SO_SNDTIMEO) set to what is left until the deadline, and again after a
// signal. A timeout is context.DeadlineExceeded.
func (x *busConn) retry(opt int, op func() error) error {
	for {
		left := time.Until(x.deadline)
		if left <= 0 {
			return context.DeadlineExceeded
		}
		// Rounded up: a zero timeout would be none.
		tv := unix.NsecToTimeval(int64(left + time.Microsecond - 1))
		if err := unix.SetsockoptTimeval(x.fd, unix.SOL_SOCKET, opt, &tv); err != nil {
			return err
		}
		switch err := op(); err {
		case unix.EINTR:
		case unix.EAGAIN:
			return context.DeadlineExceeded
		default:
			return err
		}
	}
}

// Read makes busConn in's io.Reader.
func (x *busConn) Read(p []byte) (n int, err error) {
	err = x.retry(unix.SO_RCVTIMEO, func() (err error) {
		n, err = unix.Read(x.fd, p)
		return err
	})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// flush sends out.
func (x *busConn) flush(ctx context.Context) error {
	for len(x.out) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		var n int
		err := x.retry(unix.SO_SNDTIMEO, func() (err error) {
			n, err = unix.Write(x.fd, x.out)
			return err
		})
		if err != nil {
			return err
		}
		x.out = x.out[n:]
	}
	return nil
}

// pending is a call sent to dest, whose reply must come from dest.
type pending struct {
	serial uint32
	dest   string
}

// call appends a method call to out.
func (x *busConn) call(dest, path, iface, member string, args ...string) pending {
	x.serial++
	x.out = appendCall(x.out, x.serial, dest, path, iface, member, args...)
	return pending{x.serial, dest}
}

// await reads messages until it has the replies to calls, in any order,
// and skips anything else (the bus's NameAcquired signal).
func (x *busConn) await(ctx context.Context, calls ...pending) ([]*message, error) {
	got := make([]*message, len(calls))
	for n := 0; n < len(calls); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := readMessage(x.in)
		if err != nil {
			return nil, err
		}
		if m.typ != typeReturn && m.typ != typeError {
			continue
		}
		for i, c := range calls {
			if c.serial != m.replySerial || got[i] != nil {
				continue
			}
			// The bus passes on a reply only from the connection that
			// was called; checked all the same.
			if m.sender != c.dest {
				return nil, fmt.Errorf("reply from %q, want %s", m.sender, c.dest)
			}
			got[i] = m
			n++
		}
	}
	return got, nil
}
