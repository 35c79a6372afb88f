package nssdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Lookup socket wire format (policyd/spec/nss.md, "Socket").
const (
	opByName = 1
	opByUID  = 2

	statusRecorded    = 0
	statusNotRecorded = 1
	statusError       = 2

	frameHeader = 8
	maxName     = 256
	maxPayload  = 4096
)

var protoMagic = []byte("VGN1")

// requestError is a malformed request: the server answers status 2 with
// its text and closes the connection.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{fmt.Sprintf(format, args...)}
}

func appendFrame(b []byte, code byte, payload []byte) []byte {
	b = append(b, protoMagic...)
	b = append(b, code, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

// readRequest reads one request into buf. Payload aliases buf.
func readRequest(r io.Reader, buf *[frameHeader + maxName]byte) (op byte, payload []byte, err error) {
	h := buf[:frameHeader]
	if _, err := io.ReadFull(r, h); err != nil {
		return 0, nil, err
	}
	if !bytes.Equal(h[:4], protoMagic) {
		return 0, nil, badRequest("bad magic %q", h[:4])
	}
	op = h[4]
	if h[5] != 0 {
		return 0, nil, badRequest("byte 5 is %d, want 0", h[5])
	}
	n := int(binary.LittleEndian.Uint16(h[6:]))
	switch op {
	case opByName:
		if n < 1 || n > maxName {
			return 0, nil, badRequest("name length %d outside 1..%d", n, maxName)
		}
	case opByUID:
		if n != 4 {
			return 0, nil, badRequest("uid length %d, want 4", n)
		}
	default:
		return 0, nil, badRequest("unknown op %d", op)
	}
	payload = buf[frameHeader : frameHeader+n]
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if op == opByName && bytes.IndexByte(payload, 0) >= 0 {
		return 0, nil, badRequest("name contains NUL")
	}
	return op, payload, nil
}

// appendEntry appends e's response payload: u32 uid, u32 gid, then name,
// passwd, gecos, dir and shell, each NUL-terminated.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, e.UID)
	b = binary.LittleEndian.AppendUint32(b, e.GID)
	for i, f := range e.fields() {
		if strings.IndexByte(f, 0) >= 0 {
			return nil, fmt.Errorf("entry %q: %s contains NUL", e.Name, stringFields[i].name)
		}
		b = append(append(b, f...), 0)
	}
	if n := len(b) - start; n > maxPayload {
		return nil, fmt.Errorf("entry %q: %d bytes, more than the protocol's %d", e.Name, n, maxPayload)
	}
	return b, nil
}

func decodeEntry(p []byte) (Entry, error) {
	if len(p) < 8 {
		return Entry{}, fmt.Errorf("entry payload is %d bytes, shorter than uid and gid", len(p))
	}
	e := Entry{
		UID:      binary.LittleEndian.Uint32(p),
		GID:      binary.LittleEndian.Uint32(p[4:]),
		Recorded: true,
	}
	dst := [...]*string{&e.Name, &e.Passwd, &e.Gecos, &e.Dir, &e.Shell}
	off := 8
	for i, d := range dst {
		n := bytes.IndexByte(p[off:], 0)
		if n < 0 {
			return Entry{}, fmt.Errorf("entry payload: %s at offset %d is not NUL-terminated", stringFields[i].name, off)
		}
		*d = string(p[off : off+n])
		off += n + 1
	}
	if off != len(p) {
		return Entry{}, fmt.Errorf("entry payload: %d bytes after the shell", len(p)-off)
	}
	return e, nil
}
