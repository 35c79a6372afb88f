// Package recgen makes recordings for tests and benchmarks with Vigil's real
// encoder and integrity chain (unsigned), in memory.
package recgen

import (
	"bytes"
	"time"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Start is the wall-clock start of generated recordings.
var Start = time.Unix(1795349830, 121e6)

// buffer is a msg.Writer collecting lines.
type buffer struct{ bytes.Buffer }

func (b *buffer) WriteMessage(m *msg.Message) error {
	b.Write(m.Line)
	return nil
}

// Chunk is one write of the recorded program at time T.
type Chunk struct {
	T    time.Duration
	Data []byte
}

// Record encodes output chunks after an initial 80x24 window, as vigil-rec
// would on a terminal, and returns the recording's lines.
func Record(rec string, chunks []Chunk) []byte {
	var out buffer
	cw := chain.New(&out, nil, 0, func() time.Time { return Start })
	e := tlog.NewEncoder(tlog.Meta{Host: "vm", Rec: rec, User: "root", Term: "xterm", Session: 1, Start: Start},
		tlog.Options{Payload: 2048, Output: true, Window: true}, cw)
	var t time.Duration
	if err := e.Window(0, 80, 24); err != nil {
		panic(err) // the in-memory writers never fail
	}
	for _, c := range chunks {
		t = c.T
		if err := e.Output(t, c.Data); err != nil {
			panic(err)
		}
	}
	if err := e.Close(t); err != nil {
		panic(err)
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
