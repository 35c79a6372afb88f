package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// conn is an audit netlink socket of our own rather than go-libaudit's
// NetlinkClient: that one hides its descriptor, so it can neither grow the
// receive buffer (a burst of execs overflows the default 208 KiB) nor be
// woken from a blocking read on Close. This one sits in Go's netpoller, so
// read deadlines and Close work. It implements libaudit.NetlinkSendReceiver,
// so libaudit.AuditClient can drive it (SetPID must come from the socket that
// receives the records: the kernel sends them to its port id).
type conn struct {
	f    *os.File
	rc   syscall.RawConn
	port uint32
	seq  atomic.Uint32
	buf  []byte // for Receive (SetPID's ack); the receive loop reads batches
}

// recvBufSize holds the largest audit record (MAX_AUDIT_MESSAGE_LENGTH,
// 8970 bytes) with its netlink header, with room to spare.
const recvBufSize = 16 << 10

// dial opens an audit netlink socket; groups is 0 for the unicast (daemon
// and control) socket or libaudit.NetlinkGroupReadLog for multicast.
func dial(groups uint32, rcvbuf int) (*conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("audit netlink socket: %w", err)
	}
	if rcvbuf > 0 {
		// SO_RCVBUFFORCE passes net.core.rmem_max (root only); fall back
		// to what an unprivileged SO_RCVBUF allows.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind audit netlink socket (groups %d): %w", groups, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("audit netlink socket name: %w", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("audit netlink socket name is %T", sa)
	}
	f := os.NewFile(uintptr(fd), "audit-netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit netlink socket: %w", err)
	}
	return &conn{f: f, rc: rc, port: nl.Pid, buf: make([]byte, recvBufSize)}, nil
}

// Send implements libaudit.NetlinkSender.
func (c *conn) Send(msg syscall.NetlinkMessage) (uint32, error) { return c.send(msg) }

// SendNoWait implements libaudit.NetlinkSender; the socket never blocks.
func (c *conn) SendNoWait(msg syscall.NetlinkMessage) (uint32, error) { return c.send(msg) }

func (c *conn) send(msg syscall.NetlinkMessage) (uint32, error) {
	msg.Header.Pid = c.port
	msg.Header.Seq = c.seq.Add(1)
	msg.Header.Len = uint32(unix.SizeofNlMsghdr + len(msg.Data))
	b := make([]byte, msg.Header.Len)
	*(*syscall.NlMsghdr)(unsafe.Pointer(&b[0])) = msg.Header
	copy(b[unix.SizeofNlMsghdr:], msg.Data)
	var err error
	cerr := c.rc.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return err != unix.EAGAIN
	})
	if cerr != nil {
		return 0, cerr
	}
	return msg.Header.Seq, err
}

// Receive implements libaudit.NetlinkReceiver (used for the ack of SetPID).
func (c *conn) Receive(nonBlocking bool, p libaudit.NetlinkParser) ([]syscall.NetlinkMessage, error) {
	n, err := c.recvRaw(nonBlocking)
	if err != nil {
		return nil, err
	}
	return p(c.buf[:n])
}

// batchSize is how many records one recvmmsg(2) takes: under load the
// records queue up, and one system call (and one wake-up) takes them all.
const batchSize = 32

// batch holds recvmmsg's buffers; it belongs to the receive loop.
type batch struct {
	hdrs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrNetlink
	bufs  [batchSize][recvBufSize]byte
	n     int
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(recvBufSize)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	return b
}

// recvBatch waits for records and reads all that are queued (up to
// batchSize) into b.
func (c *conn) recvBatch(b *batch) error {
	var err error
	cerr := c.rc.Read(func(fd uintptr) bool {
		for i := range b.hdrs {
			b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrNetlink
			b.hdrs[i].Hdr.Flags = 0
			b.hdrs[i].Len = 0
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), batchSize,
			unix.MSG_DONTWAIT, 0, 0)
		b.n, err = int(r), nil
		if e != 0 {
			b.n, err = 0, e
		}
		return err != unix.EAGAIN
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// record returns the type and payload of record i of the batch (valid
// until the next recvBatch); ok is false for what is no audit record.
func (b *batch) record(i int) (typ uint16, data []byte, ok bool) {
	n := int(b.hdrs[i].Len)
	if n < unix.NLMSG_HDRLEN || b.names[i].Pid != 0 { // short, or not from the kernel
		return 0, nil, false
	}
	h := (*syscall.NlMsghdr)(unsafe.Pointer(&b.bufs[i][0]))
	// The audit subsystem's nlmsg_len is not reliable across kernels (it
	// once excluded the header): take what was received, minus the
	// padding and the string's terminating NULs.
	return h.Type, bytes.TrimRight(b.bufs[i][unix.NLMSG_HDRLEN:n], "\x00"), true
}

func (c *conn) recvRaw(nonBlocking bool) (int, error) {
	var (
		n    int
		from unix.Sockaddr
		err  error
	)
	cerr := c.rc.Read(func(fd uintptr) bool {
		n, from, err = unix.Recvfrom(int(fd), c.buf, unix.MSG_DONTWAIT)
		return nonBlocking || err != unix.EAGAIN
	})
	if cerr != nil {
		return 0, cerr
	}
	if err != nil {
		return 0, err
	}
	if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
		return 0, errors.New("audit netlink message not from the kernel")
	}
	return n, nil
}

// setReadDeadline bounds the blocking recv, so the receive loop can expire
// half-assembled events and notice Close.
func (c *conn) setReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// Close implements io.Closer.
func (c *conn) Close() error { return c.f.Close() }
