package nssdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Client is a persistent connection to the lookup socket (vigilctl and
// tests; the C module speaks the same protocol one request per
// connection). It is not safe for concurrent use.
type Client struct {
	path    string
	conn    *net.UnixConn
	r       *bufio.Reader
	timeout time.Duration
	buf     []byte
	err     error // sticky: the stream is out of step after a transport or framing error
}

// Dial connects to the socket at path. timeout bounds the connect and then
// each request/response pair; 0 means none.
//
// The server must run as root, as the spec requires, or as the caller's
// own uid: another user's process could lie to us, our own could already
// do anything we can, and it lets tests run a server without root. A root
// caller therefore accepts only root.
func Dial(path string, timeout time.Duration) (*Client, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("nss socket: %w", err)
	}
	uc := c.(*net.UnixConn)
	peer, err := peerUID(uc)
	if err == nil {
		err = checkPeer(peer, uint32(os.Getuid()))
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("nss socket %s: %w", path, err)
	}
	return &Client{path: path, conn: uc, r: bufio.NewReader(uc), timeout: timeout}, nil
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		cred    *unix.Ucred
		credErr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	return cred.Uid, nil
}

func checkPeer(peer, self uint32) error {
	if peer == 0 || peer == self {
		return nil
	}
	return fmt.Errorf("server runs as uid %d, neither root nor our uid %d", peer, self)
}

// ByName asks for the user named name. recorded=false with a nil error
// means not recorded or no such user.
func (c *Client) ByName(name string) (Entry, bool, error) {
	if name == "" || len(name) > maxName || strings.IndexByte(name, 0) >= 0 {
		return Entry{}, false, fmt.Errorf("nss socket %s: name %q: want 1..%d bytes without NUL", c.path, name, maxName)
	}
	// The answer may carry the canonical form of the name (as SSSD gives
	// it), as the NSS module accepts.
	e, ok, err := c.do(opByName, []byte(name))
	return e, ok, err
}

// ByUID asks for the user with uid.
func (c *Client) ByUID(uid uint32) (Entry, bool, error) {
	e, ok, err := c.do(opByUID, binary.LittleEndian.AppendUint32(nil, uid))
	if ok && e.UID != uid {
		return Entry{}, false, fmt.Errorf("nss socket %s: asked for uid %d, answered uid %d", c.path, uid, e.UID)
	}
	return e, ok, err
}

func (c *Client) do(op byte, key []byte) (Entry, bool, error) {
	if c.err != nil {
		return Entry{}, false, c.err
	}
	status, payload, err := c.roundTrip(op, key)
	if err != nil {
		c.err = fmt.Errorf("nss socket %s: %w", c.path, err)
		return Entry{}, false, c.err
	}
	switch status {
	case statusRecorded:
		e, err := decodeEntry(payload)
		if err != nil {
			c.err = fmt.Errorf("nss socket %s: %w", c.path, err)
			return Entry{}, false, c.err
		}
		return e, true, nil
	case statusNotRecorded:
		return Entry{}, false, nil
	default:
		return Entry{}, false, fmt.Errorf("nss socket %s: server error: %q", c.path, payload)
	}
}

func (c *Client) roundTrip(op byte, key []byte) (status byte, payload []byte, err error) {
	if c.timeout > 0 {
		if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
			return 0, nil, err
		}
	}
	c.buf = appendFrame(c.buf[:0], op, key)
	if _, err := c.conn.Write(c.buf); err != nil {
		return 0, nil, err
	}
	h := c.buf[:frameHeader]
	if _, err := io.ReadFull(c.r, h); err != nil {
		return 0, nil, fmt.Errorf("response header: %w", err)
	}
	if !bytes.Equal(h[:4], protoMagic) {
		return 0, nil, fmt.Errorf("response: bad magic %q", h[:4])
	}
	if h[5] != 0 {
		return 0, nil, fmt.Errorf("response: byte 5 is %d, want 0", h[5])
	}
	status = h[4]
	n := int(binary.LittleEndian.Uint16(h[6:]))
	switch {
	case status > statusError:
		return 0, nil, fmt.Errorf("response: unknown status %d", status)
	case n > maxPayload:
		return 0, nil, fmt.Errorf("response: length %d, more than %d", n, maxPayload)
	case status == statusNotRecorded && n != 0:
		return 0, nil, fmt.Errorf("response: status 1 with a %d-byte payload", n)
	}
	c.buf = slices.Grow(c.buf[:0], n)[:n]
	if _, err := io.ReadFull(c.r, c.buf); err != nil {
		return 0, nil, fmt.Errorf("response payload: %w", err)
	}
	return status, c.buf, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	c.err = errors.New("nss socket: client closed")
	return c.conn.Close()
}
