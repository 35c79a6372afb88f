// Package chain adds Vigil's integrity fields to tlog messages: a SHA-256
// hash chain over every written message and ed25519 signatures at
// checkpoints. The layout is specified in rec/spec/integrity.md.
package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/msg"
)

// Layout constants shared with the verifier; changing any of them changes
// the format version.
const (
	// Marker opens the vigil object. The verifier finds it with the first
	// occurrence in the line (tlog fields are flat, so it cannot occur
	// structurally before it, and JSON strings cannot hold its quotes).
	Marker = `,"vigil":{"v":1`
	// SigDomain prefixes every signed message ("vigil-chain-v1\n" rec "\n" hash).
	SigDomain = "vigil-chain-v1\n"
	// ZeroHash is the prev of seq 1.
	ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"
)

// Writer is the chain stage: it rewrites each message's Line to carry the
// vigil object and passes it to the next Writer. One Writer serves exactly
// one recording. It is safe for concurrent use.
type Writer struct {
	next     msg.Writer
	priv     ed25519.PrivateKey
	keyID    string
	interval time.Duration
	clock    func() time.Time

	mu       sync.Mutex
	err      error // sticky: a chain with a hole must not continue
	rec      string
	seq      uint64
	prev     [2 * sha256.Size]byte
	lastSig  time.Time
	meta     []byte // compacted JSON object for the next message
	out      []byte // reused output line
	sigInput []byte // reused signature input
}

// New returns a chain stage writing to next. priv may be nil: the chain is
// then written without signatures. Messages are signed when Final,
// Checkpoint, carrying drop or meta, or when interval has passed since the
// last signature according to clock (time.Now when nil); interval <= 0
// signs every message.
func New(next msg.Writer, priv ed25519.PrivateKey, interval time.Duration, clock func() time.Time) *Writer {
	if clock == nil {
		clock = time.Now
	}
	w := &Writer{next: next, interval: interval, clock: clock, lastSig: clock()}
	copy(w.prev[:], ZeroHash)
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

// WriteMessage adds the vigil object to m.Line and writes m to the next
// Writer. m.Line is restored before returning, so the caller keeps its
// buffer; the line passed on is valid only during the call.
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
	drop := m.Dropped.Messages != 0 || m.Dropped.Bytes != 0
	now := w.clock()
	sign := w.priv != nil && (m.Final || m.Checkpoint || drop || w.meta != nil || now.Sub(w.lastSig) >= w.interval)

	seq := w.seq + 1
	b := append(w.out[:0], line[:len(line)-2]...)
	b = append(b, Marker+`,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"prev":"`...)
	b = append(b, w.prev[:]...)
	b = append(b, '"')
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
	sum := sha256.Sum256(b)
	var hash [2 * sha256.Size]byte
	hex.Encode(hash[:], sum[:])
	b = append(b, `"hash":"`...)
	b = append(b, hash[:]...)
	b = append(b, '"')
	if sign {
		w.sigInput = SigInput(w.sigInput[:0], w.rec, hash[:])
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
		// The sink may or may not hold the line; either way later messages
		// could not link to a known predecessor, so the chain stops here.
		w.err = fmt.Errorf("chain: seq %d (id %d): %w", seq, m.ID, err)
		return w.err
	}
	w.seq, w.prev = seq, hash
	w.meta = nil
	if sign {
		w.lastSig = now
	}
	if m.Final {
		w.err = fmt.Errorf("chain: recording %q already ended at seq %d", w.rec, seq)
	}
	return nil
}

// SigInput appends the bytes an ed25519 signature covers to dst.
func SigInput(dst []byte, rec string, hash []byte) []byte {
	dst = append(dst, SigDomain...)
	dst = append(dst, rec...)
	dst = append(dst, '\n')
	return append(dst, hash...)
}
