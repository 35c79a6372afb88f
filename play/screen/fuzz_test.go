package screen

import (
	"math/rand/v2"
	"testing"
)

// FuzzScreen feeds any output, in two writes around a window change, to a
// screen of any size: nothing panics, the size stays bounded, every row
// the screen has is there, and a repaint between sequences restores the
// state.
func FuzzScreen(f *testing.F) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		f.Add(randomOutput(rnd, 300), uint16(rnd.IntN(100)), uint16(rnd.IntN(40)), uint16(rnd.IntN(300)), uint16(rnd.IntN(100)), uint16(rnd.IntN(40)))
	}
	f.Add([]byte("\x1b[999S\x1bc\x1b[?1049h\x1b[65535;65535H\x1b[65535@\x1b[65535b\x1b#8"), uint16(0), uint16(0), uint16(3), uint16(65535), uint16(65535))
	f.Add([]byte("\xc2\x9b6n\x9b\x1b]0;\xc2\x9c\x1bP$q\x1b\\"), uint16(1), uint16(1), uint16(1), uint16(2), uint16(1))
	f.Fuzz(func(t *testing.T, out []byte, cols, rows, split, cols2, rows2 uint16) {
		s := New(int(cols), int(rows))
		lines := 0
		s.OnScroll = func(Line) { lines++ }
		s.OnClear = func(ls []Line) { lines += len(ls) }
		at := min(int(split), len(out))
		s.Write(out[:at])
		s.Resize(int(cols2), int(rows2))
		s.Write(out[at:])
		c, r := s.Size()
		if c < 1 || r < 1 || c > MaxCols || r > MaxRows || len(s.Lines()) != r {
			t.Fatalf("size %dx%d with %d rows", c, r, len(s.Lines()))
		}
		s.Changed(func(string, bool) bool { return false })
		if s.Ground() {
			b := New(c, r)
			b.Write(s.Repaint())
			if d := diff(snap(b), snap(s)); d != "" {
				t.Fatalf("repainted state differs: %s", d)
			}
		}
		s.Flush()
	})
}
