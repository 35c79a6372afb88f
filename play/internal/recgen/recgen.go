// Package recgen makes recordings for tests and benchmarks with Vigil's real
// encoder and integrity chain.
package recgen

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"time"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Start is the wall-clock start of generated recordings.
var Start = time.Unix(1795349830, 121e6)

// lineWriter is a msg.Writer writing the lines to an io.Writer.
type lineWriter struct{ w io.Writer }

func (l lineWriter) WriteMessage(m *msg.Message) error {
	_, err := l.w.Write(m.Line)
	return err
}

// Chunk is one write of the recorded program at time T.
type Chunk struct {
	T    time.Duration
	Data []byte
}

// Meta is what a generated recording says about itself.
type Meta struct {
	Rec, User, Host string
	Start           time.Time
	// Key, if set, signs the end of the recording (and nothing else: the
	// chain's clock stands still).
	Key ed25519.PrivateKey
}

// Write encodes output chunks after an initial 80x24 window, as vigil-rec
// would on a terminal, and writes the recording's lines to w.
func Write(w io.Writer, m Meta, chunks iter.Seq[Chunk]) error {
	cw := chain.New(lineWriter{w}, m.Key, time.Hour, func() time.Time { return m.Start })
	e := tlog.NewEncoder(tlog.Meta{Host: m.Host, Rec: m.Rec, User: m.User, Term: "xterm", Session: 1, Start: m.Start},
		tlog.Options{Payload: 2048, Output: true, Window: true}, cw)
	var t time.Duration
	if err := e.Window(0, 80, 24); err != nil {
		return err
	}
	for c := range chunks {
		t = c.T
		if err := e.Output(t, c.Data); err != nil {
			return err
		}
	}
	return e.Close(t)
}

// Record is Write of a recording by root on host "vm", in memory.
func Record(rec string, chunks []Chunk) []byte {
	var out bytes.Buffer
	seq := func(yield func(Chunk) bool) {
		for _, c := range chunks {
			if !yield(c) {
				return
			}
		}
	}
	if err := Write(&out, Meta{Rec: rec, User: "root", Host: "vm", Start: Start}, seq); err != nil {
		panic(err) // writing to memory never fails
	}
	return out.Bytes()
}

// Split cuts data into 4096-byte reads (the recorder's read size), 10 µs
// apart.
func Split(data []byte) []Chunk {
	var cs []Chunk
	for i := 0; len(data) > 0; i++ {
		n := min(4096, len(data))
		cs = append(cs, Chunk{T: time.Duration(i) * 10 * time.Microsecond, Data: data[:n]})
		data = data[n:]
	}
	return cs
}

// Terminal appends about n bytes of escape-heavy terminal output (colours,
// some UTF-8 and binary; about six JSON escapes per 75 bytes) to b.
func Terminal(b []byte, rnd *rand.Rand, n int) []byte {
	for end := len(b) + n; len(b) < end; {
		switch rnd.IntN(10) {
		case 0:
			b = append(b, "déjà vu 日本語 😀\r\n"...)
		case 1:
			b = append(b, byte(rnd.UintN(256)), byte(rnd.UintN(256)))
		default:
			b = append(b, "\x1b[32mdrwxr-xr-x\x1b[0m  2 root root  4096 Nov 22 21:53 \"file name\"\r\n"...)
		}
	}
	return b
}

// Random returns n random bytes, as cat /dev/urandom writes.
func Random(n int) []byte {
	b := make([]byte, n)
	rnd := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return b
}

// Text appends about n bytes of plain log lines to b.
func Text(b []byte, rnd *rand.Rand, n int) []byte {
	for end := len(b) + n; len(b) < end; {
		b = fmt.Appendf(b, "Nov 22 21:53:%02d vm sshd[%d]: Accepted publickey for root from 10.0.0.%d port 52144 ssh2\r\n",
			rnd.IntN(60), rnd.IntN(99999), rnd.IntN(256))
	}
	return b
}
