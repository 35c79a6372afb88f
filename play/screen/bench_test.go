package screen

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/vigil-rec/vigil/play/internal/recgen"
)

// benchWrite measures writing out to a watched 80x24 screen, 4 KiB at a
// time.
func benchWrite(b *testing.B, out []byte) {
	s := New(80, 24)
	s.OnScroll = func(Line) {}
	s.OnClear = func([]Line) {}
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		for p := out; len(p) > 0; {
			n := min(len(p), 4096)
			s.Write(p[:n])
			p = p[n:]
		}
	}
}

// BenchmarkRandom is a flood of random bytes (cat /dev/urandom).
func BenchmarkRandom(b *testing.B) {
	out := make([]byte, 8<<20)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range out {
		out[i] = byte(rnd.Uint32())
	}
	benchWrite(b, out)
}

// BenchmarkTerminal is ordinary terminal output: text, colours, cursor
// movement, scrolling.
func BenchmarkTerminal(b *testing.B) {
	benchWrite(b, randomOutput(rand.New(rand.NewPCG(3, 4)), 8<<20))
}

// BenchmarkRecordingOutput is the output of play/player's seeking
// benchmark: escape-heavy listings, some UTF-8 and binary.
func BenchmarkRecordingOutput(b *testing.B) {
	benchWrite(b, recgen.Terminal(nil, rand.New(rand.NewPCG(9, 9)), 8<<20))
}

// BenchmarkScrollFlood is a flood of the most expensive sequence on the
// largest screen: a line, then scrolling the whole screen.
func BenchmarkScrollFlood(b *testing.B) {
	s := New(MaxCols, MaxRows)
	s.OnScroll = func(Line) {}
	unit := []byte("x\x1b[999S")
	b.SetBytes(int64(len(unit)))
	for b.Loop() {
		s.Write(unit)
	}
}

// BenchmarkChangedLongLine is a character added at a time to a line that
// fills the largest screen, checked after each (as search does).
func BenchmarkChangedLongLine(b *testing.B) {
	s := New(MaxCols, MaxRows)
	s.Write(bytes.Repeat([]byte("x"), MaxCols*(MaxRows-1)))
	for b.Loop() {
		s.Write([]byte("y\b"))
		s.Changed(func(string, bool) bool { return false })
	}
}

// BenchmarkLog is log lines scrolling by (tail -f, cat of a log): most
// pass through the screen (passLines).
func BenchmarkLog(b *testing.B) {
	benchWrite(b, recgen.Text(nil, rand.New(rand.NewPCG(5, 6)), 8<<20))
}
