package tlog

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
)

// discard counts bytes, like a sink that does no I/O.
type discard struct{ n int }

func (d *discard) WriteMessage(m *msg.Message) error {
	d.n += len(m.Line)
	return nil
}

func benchEncode(b *testing.B, data []byte) {
	var d discard
	e := NewEncoder(Meta{Host: "vm", Rec: "880036822e704a8f8b7f642af594eba7-1a70-21a17", User: "root", Term: "xterm", Session: 1, Start: time.Now()},
		Options{Payload: 2048, Output: true, Window: true}, &d)
	const chunk = 4096 // the recorder's read size
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	t := time.Duration(0)
	for range b.N {
		for p := data; len(p) > 0; {
			n := min(chunk, len(p))
			t += 10 * time.Microsecond
			if err := e.Output(t, p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
	b.StopTimer()
	if err := e.Close(t); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(d.n)/float64(int64(len(data))*int64(b.N)), "log/in")
}

// BenchmarkEncodeASCII: base64-like terminal text with CRLF line ends.
func BenchmarkEncodeASCII(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var buf bytes.Buffer
	for buf.Len() < 1<<20 {
		for range 76 {
			buf.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		buf.WriteString("\r\n")
	}
	benchEncode(b, buf.Bytes())
}

// BenchmarkEncodeBinary: random bytes, the worst case (mostly invalid UTF-8).
func BenchmarkEncodeBinary(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(r.UintN(256))
	}
	benchEncode(b, data)
}

// BenchmarkEncodeUTF8: mixed multi-byte text (CJK, accents, emoji).
func BenchmarkEncodeUTF8(b *testing.B) {
	benchEncode(b, bytes.Repeat([]byte("日本語のテキスト, déjà vu 😀 ok\r\n"), 1<<15))
}

// lines collects the message lines of a recording of data.
type lines struct{ b [][]byte }

func (l *lines) WriteMessage(m *msg.Message) error {
	l.b = append(l.b, append([]byte(nil), m.Line...))
	return nil
}

// benchLines is a busy terminal's recording at the default payload: text
// with escape sequences, CRLFs and non-ASCII characters.
func benchLines(b *testing.B) (ls [][]byte, size int64) {
	var l lines
	e := NewEncoder(Meta{Host: "vm", Rec: "880036822e704a8f8b7f642af594eba7-1a70-21a17", User: "root", Term: "xterm", Session: 1, Start: time.Unix(1700000000, 0)},
		Options{Payload: 2048, Output: true, Window: true}, &l)
	text := bytes.Repeat([]byte("output of a busy terminal \x1b[1mbold\x1b[0m é\r\n"), 40)
	for i := range 4000 {
		if err := e.Output(time.Duration(i)*2*time.Millisecond, text); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Close(8 * time.Second); err != nil {
		b.Fatal(err)
	}
	for _, line := range l.b {
		size += int64(len(line))
	}
	return l.b, size
}

// BenchmarkDecode decodes messages as vigil-play's reader does (Decode)
// and as the verifier does (Scan).
func BenchmarkDecode(b *testing.B) {
	ls, size := benchLines(b)
	var d Decoder
	var m Message
	var h Head
	for _, c := range []struct {
		name string
		f    func([]byte) error
	}{
		{"Decode", func(line []byte) error { return d.Decode(line, &m) }},
		{"Scan", func(line []byte) error { return d.Scan(line, &h) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for range b.N {
				for _, line := range ls {
					if err := c.f(line); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
