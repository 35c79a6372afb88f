// Package chain adds Vigil's integrity fields to tlog messages: a SHA-256
// hash chain over every written message, carried by anchor messages, and
// ed25519 signatures at checkpoints. The layout is specified in
// rec/spec/integrity.md.
package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/msg"
)

// Layout constants shared with the verifier; changing any of them changes
// the format version.
const (
	// Marker opens the vigil object of an anchor message. The verifier finds
	// it with the first occurrence in the line (tlog fields are flat, so it
	// cannot occur structurally before it, and JSON strings cannot hold its
	// quotes).
	Marker = `,"vigil":{"v":2`
	// SigDomain prefixes every signed message ("vigil-chain-v2\n" rec "\n" hash).
	SigDomain = "vigil-chain-v2\n"
	// AnchorEvery is the default bound on the messages from one anchor to
	// the next (SetAnchorEvery), so that damage is located to at most that
	// many lines (~512 KiB of output at the default payload) even between
	// signatures. An unsigned anchor carries ~100 bytes, 0.02% of the log
	// at this spacing.
	AnchorEvery = 256
)

// Writer is the chain stage: it hashes every message, makes some of them
// anchors that carry the vigil object, and passes them to the next Writer.
// Messages between anchors pass unchanged. One Writer serves exactly one
// recording. It is safe for concurrent use.
type Writer struct {
	next     msg.Writer
	priv     ed25519.PrivateKey
	keyID    string
	interval time.Duration
	clock    func() time.Time

	mu       sync.Mutex
	err      error // sticky: a chain with a hole must not continue
	rec      string
	seq      uint64    // messages written
	anchored uint64    // seq of the last anchor
	every    uint64    // at most this many messages from one anchor to the next
	h        hash.Hash // previous anchor's hash, then every byte since
	lastSig  time.Time
	meta     []byte // compacted JSON object for the next message
	out      []byte // reused output line
	sum      []byte // reused digest
	sigInput []byte // reused signature input
}

// New returns a chain stage writing to next. priv may be nil: the chain is
// then written without signatures. Anchors are signed when Final,
// Checkpoint, carrying drop or meta, the first message, or when interval has
// passed since the last signature according to clock (time.Now when nil);
// interval <= 0 signs every anchor.
func New(next msg.Writer, priv ed25519.PrivateKey, interval time.Duration, clock func() time.Time) *Writer {
	if clock == nil {
		clock = time.Now
	}
	w := &Writer{next: next, interval: interval, clock: clock, lastSig: clock(), h: sha256.New(), every: AnchorEvery}
	w.h.Write(make([]byte, sha256.Size)) // the first anchor's predecessor: zeros
	switch len(priv) {
	case 0:
	case ed25519.PrivateKeySize:
		w.priv = priv
		w.keyID = keys.ID(priv.Public().(ed25519.PublicKey))
	default:
		w.err = fmt.Errorf("chain: signing key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	return w
}

// SetAnchorEvery makes at least every nth message an anchor; 1 makes every
// message one. n < 1 counts as 1.
func (w *Writer) SetAnchorEvery(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.every = uint64(max(n, 1))
}

// SetMeta attaches a JSON object of recorder metadata (command line, exit
// status, transfer hashes ...) to the next message written, which is then
// signed. Several calls before that message merge their members.
func (w *Writer) SetMeta(raw json.RawMessage) error {
	var buf bytes.Buffer
	// Compact also validates, and guarantees no raw newline can split the line.
	if err := json.Compact(&buf, raw); err != nil {
		return fmt.Errorf("chain: meta is not valid JSON: %w", err)
	}
	obj := buf.Bytes()
	if obj[0] != '{' {
		return errors.New("chain: meta must be a JSON object")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case len(w.meta) == 0:
		w.meta = obj
	case len(obj) > 2: // merge non-empty obj: {a} + {b} -> {a,b}
		if len(w.meta) > 2 {
			w.meta = append(w.meta[:len(w.meta)-1], ',')
			w.meta = append(w.meta, obj[1:]...)
		} else {
			w.meta = obj
		}
	}
	return nil
}

// WriteMessage hashes m.Line into the chain and writes m to the next
// Writer; an anchor's Line first gets the vigil object. m.Line is restored
// before returning, so the caller keeps its buffer; the line passed on is
// valid only during the call.
func (w *Writer) WriteMessage(m *msg.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	line := m.Line
	if len(line) < 3 || line[0] != '{' || !bytes.HasSuffix(line, []byte("}\n")) {
		return fmt.Errorf("chain: message id %d is not a JSON object line", m.ID)
	}
	if w.seq == 0 {
		// Signatures bind m.Rec, verifiers read rec from the line: they
		// must agree, checked once per recording to keep the hot path lean.
		quoted, err := json.Marshal(m.Rec)
		if err != nil || !bytes.Contains(line, append([]byte(`,"rec":`), quoted...)) {
			return fmt.Errorf("chain: message id %d: line does not carry rec %q", m.ID, m.Rec)
		}
		w.rec = m.Rec
	} else if m.Rec != w.rec {
		return fmt.Errorf("chain: message id %d is of recording %q, chain is for %q", m.ID, m.Rec, w.rec)
	}
	seq := w.seq + 1
	drop := m.Dropped.Messages != 0 || m.Dropped.Bytes != 0
	now := w.clock()
	// These messages are anchors, signed when there is a key. The first
	// one is, so that a recording cut short cannot pass for a plain tlog
	// recording.
	anchor := seq == 1 || m.Final || m.Checkpoint || drop || w.meta != nil
	sign := w.priv != nil && (anchor || now.Sub(w.lastSig) >= w.interval)
	if !sign && !anchor && seq-w.anchored < w.every {
		w.h.Write(line)
		if err := w.next.WriteMessage(m); err != nil {
			return w.fail(seq, m, err)
		}
		w.seq = seq
		return nil
	}

	b := append(w.out[:0], line[:len(line)-2]...)
	b = append(b, Marker+`,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	if drop {
		b = append(b, `,"drop":{"messages":`...)
		b = strconv.AppendUint(b, m.Dropped.Messages, 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendUint(b, m.Dropped.Bytes, 10)
		b = append(b, '}')
	}
	if w.meta != nil {
		b = append(b, `,"meta":`...)
		b = append(b, w.meta...)
	}
	if m.Final {
		b = append(b, `,"end":true`...)
	}
	b = append(b, ',')
	w.h.Write(b)
	w.sum = w.h.Sum(w.sum[:0])
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], w.sum)
	b = append(b, `"hash":"`...)
	b = append(b, hexSum[:]...)
	b = append(b, '"')
	if sign {
		w.sigInput = SigInput(w.sigInput[:0], w.rec, hexSum[:])
		b = append(b, `,"key":"`...)
		b = append(b, w.keyID...)
		b = append(b, `","sig":"`...)
		b = hex.AppendEncode(b, ed25519.Sign(w.priv, w.sigInput))
		b = append(b, '"')
	}
	b = append(b, "}}\n"...)
	w.out = b

	m.Line = b
	err := w.next.WriteMessage(m)
	m.Line = line
	if err != nil {
		return w.fail(seq, m, err)
	}
	w.seq, w.anchored = seq, seq
	w.h.Reset()
	w.h.Write(w.sum)
	w.meta = nil
	if sign {
		w.lastSig = now
	}
	if m.Final {
		w.err = fmt.Errorf("chain: recording %q already ended at seq %d", w.rec, seq)
	}
	return nil
}

// fail stops the chain: the sink may or may not hold the line, so later
// messages could not be chained to what the verifier will read.
func (w *Writer) fail(seq uint64, m *msg.Message, err error) error {
	w.err = fmt.Errorf("chain: seq %d (id %d): %w", seq, m.ID, err)
	return w.err
}

// SigInput appends the bytes an ed25519 signature covers to dst.
func SigInput(dst []byte, rec string, hash []byte) []byte {
	dst = append(dst, SigDomain...)
	dst = append(dst, rec...)
	dst = append(dst, '\n')
	return append(dst, hash...)
}
