package wire

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The D-Bus message format (D-Bus specification, "Message Protocol"), as
// far as DecideOnce needs it: method calls with string arguments out;
// returns, errors and anything else in. Offsets and alignment count from
// the start of the message.

// Message types.
const (
	typeMethodCall = 1
	typeReturn     = 2
	typeError      = 3
)

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
)

// maxMessage is the largest message readMessage keeps: the replies
// DecideOnce waits for are a few hundred bytes, and anything bigger (a
// signal someone sent us) is skipped unread rather than buffered.
const maxMessage = 1 << 20

// appendCall appends a little-endian method call with string arguments.
func appendCall(b []byte, serial uint32, dest, path, iface, member string, args ...string) []byte {
	start := len(b)
	b = append(b, 'l', typeMethodCall, 0, 1)
	b = binary.LittleEndian.AppendUint32(b, 0) // body length, set below
	b = binary.LittleEndian.AppendUint32(b, serial)
	b = binary.LittleEndian.AppendUint32(b, 0) // header fields' length, set below
	fields := len(b)
	b = appendField(b, start, fieldPath, 'o', path)
	b = appendField(b, start, fieldInterface, 's', iface)
	b = appendField(b, start, fieldMember, 's', member)
	b = appendField(b, start, fieldDestination, 's', dest)
	if len(args) > 0 {
		b = appendField(b, start, fieldSignature, 'g', strings.Repeat("s", len(args)))
	}
	binary.LittleEndian.PutUint32(b[start+12:], uint32(len(b)-fields))
	b = pad(b, start, 8)
	body := len(b)
	for _, a := range args {
		b = appendString(pad(b, start, 4), a)
	}
	binary.LittleEndian.PutUint32(b[start+4:], uint32(len(b)-body))
	return b
}

// appendField appends a header field whose variant holds v of type typ
// ('s', 'o' or 'g').
func appendField(b []byte, start int, code, typ byte, v string) []byte {
	b = append(pad(b, start, 8), code, 1, typ, 0)
	if typ == 'g' {
		return append(append(b, byte(len(v))), v+"\x00"...)
	}
	return appendString(pad(b, start, 4), v)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s+"\x00"...)
}

// pad appends zeros up to a multiple of n from start.
func pad(b []byte, start, n int) []byte {
	for (len(b)-start)%n != 0 {
		b = append(b, 0)
	}
	return b
}

// message is a received message: the header fields DecideOnce looks at and
// the body. A message too big to keep has typ 0.
type message struct {
	typ         byte
	order       binary.ByteOrder
	replySerial uint32
	sender      string
	errorName   string
	signature   string
	body        []byte
}

// readMessage reads the next message from r.
func readMessage(r *bufio.Reader) (*message, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, err
	}
	m := &message{}
	switch fixed[0] {
	case 'l':
		m.order = binary.LittleEndian
	case 'B':
		m.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("bad message: byte order %q", fixed[0])
	}
	if fixed[3] != 1 {
		return nil, fmt.Errorf("bad message: protocol version %d", fixed[3])
	}
	fieldsEnd := 16 + uint64(m.order.Uint32(fixed[12:]))
	size := (fieldsEnd+7)&^7 + uint64(m.order.Uint32(fixed[4:]))
	if size > maxMessage {
		_, err := r.Discard(int(size - 16))
		return m, err
	}
	buf := make([]byte, size)
	copy(buf, fixed[:])
	if _, err := io.ReadFull(r, buf[16:]); err != nil {
		return nil, err
	}
	d := decoder{b: buf[:fieldsEnd], off: 16, order: m.order}
	for d.err == nil && d.off < len(d.b) {
		d.align(8)
		code := d.byte()
		switch sig := d.signature(); {
		case code == fieldReplySerial && sig == "u":
			m.replySerial = d.uint32()
		case code == fieldSender && sig == "s":
			m.sender = d.string()
		case code == fieldErrorName && sig == "s":
			m.errorName = d.string()
		case code == fieldSignature && sig == "g":
			m.signature = d.signature()
		default:
			d.skip(sig)
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("bad message header: %w", d.err)
	}
	m.typ = fixed[1]
	m.body = buf[len(buf)-int(m.order.Uint32(fixed[4:])):]
	return m, nil
}

// err is the error m carries (an *Error), or nil.
func (m *message) err() error {
	if m.typ != typeError {
		return nil
	}
	e := &Error{Name: m.errorName}
	if strings.HasPrefix(m.signature, "s") {
		e.Message = m.args().string()
	}
	return e
}

// argsOf is a decoder of m's body whose err is already set if m carries
// an error (an *Error) or its body's signature is not sig.
func (m *message) argsOf(sig string) *decoder {
	d := m.args()
	if d.err = m.err(); d.err == nil && m.signature != sig {
		d.err = fmt.Errorf("reply of signature %q, want %q", m.signature, sig)
	}
	return d
}

// args is a decoder of m's body. The body starts 8-aligned, so alignment
// from its start is alignment from the message's.
func (m *message) args() *decoder {
	return &decoder{b: m.body, order: m.order}
}

// decoder reads D-Bus values from b at off. After an error, kept in err,
// it returns zero values.
type decoder struct {
	b     []byte
	off   int
	order binary.ByteOrder
	err   error
}

var errShort = errors.New("truncated")

// next returns the next n bytes.
func (d *decoder) next(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.err = errShort
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func (d *decoder) align(n int) {
	if p := (n - d.off%n) % n; p > 0 {
		d.next(p)
	}
}

func (d *decoder) byte() byte {
	if b := d.next(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	d.align(4)
	if b := d.next(4); b != nil {
		return d.order.Uint32(b)
	}
	return 0
}

func (d *decoder) bool() bool {
	switch d.uint32() {
	case 0:
		return false
	case 1:
		return true
	}
	d.err = cmp.Or(d.err, errors.New("bad boolean"))
	return false
}

// string reads a STRING or OBJECT_PATH.
func (d *decoder) string() string {
	return d.text(int(d.uint32()))
}

// signature reads a SIGNATURE.
func (d *decoder) signature() string {
	return d.text(int(d.byte()))
}

// text reads n bytes and their NUL terminator.
func (d *decoder) text(n int) string {
	b := d.next(n + 1)
	if b == nil || b[n] != 0 {
		d.err = cmp.Or(d.err, errors.New("bad string"))
		return ""
	}
	return string(b[:n])
}

// skip reads past a header field value of the single basic type sig;
// header fields have no other types.
func (d *decoder) skip(sig string) {
	switch sig {
	case "y":
		d.byte()
	case "n", "q":
		d.align(2)
		d.next(2)
	case "b", "i", "u", "h":
		d.uint32()
	case "x", "t", "d":
		d.align(8)
		d.next(8)
	case "s", "o":
		d.string()
	case "g":
		d.signature()
	default:
		d.err = cmp.Or(d.err, fmt.Errorf("header field of type %q", sig))
	}
}
