package screen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hinshun/vt10x"
)

// randomOutput is terminal output using everything the repaint restores:
// text, line drawing, colours and attributes, cursor moves, erasing,
// scrolling regions, origin mode, the alternate screen, saved cursors, tab
// stops, modes and titles.
func randomOutput(rnd *rand.Rand, n int) []byte {
	pieces := []func() string{
		func() string { return "hello wörld ✓ " },
		func() string { return "\r\n" },
		func() string { return "\n" },
		func() string { return "\t|" },
		func() string { return fmt.Sprintf("\x1b[%d;%dH", rnd.IntN(26), rnd.IntN(42)) },
		func() string {
			return fmt.Sprintf("\x1b[%d;%dm", []int{0, 1, 3, 4, 5, 7, 22, 27}[rnd.IntN(8)], 30+rnd.IntN(10))
		},
		func() string { return fmt.Sprintf("\x1b[%dm", []int{41, 49, 92, 104, 39}[rnd.IntN(5)]) },
		func() string {
			return fmt.Sprintf("\x1b[38;5;%dm\x1b[48;2;%d;%d;%dm", rnd.IntN(256), rnd.IntN(256), rnd.IntN(256), rnd.IntN(256))
		},
		func() string { return fmt.Sprintf("\x1b[%dJ", rnd.IntN(3)) },
		func() string { return fmt.Sprintf("\x1b[%dK", rnd.IntN(3)) },
		func() string { return fmt.Sprintf("\x1b[%d;%dr", 1+rnd.IntN(6), 4+rnd.IntN(20)) },
		func() string { return "\x1b[r" },
		func() string { return []string{"\x1b[?6h", "\x1b[?6l"}[rnd.IntN(2)] },
		func() string { return []string{"\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h", "\x1b[?1047l"}[rnd.IntN(4)] },
		func() string { return []string{"\x1b7", "\x1b8", "\x1b[s", "\x1b[u"}[rnd.IntN(4)] },
		func() string { return []string{"\x1bH", "\x1b[g", "\x1b[3g"}[rnd.IntN(3)] },
		func() string { return []string{"\x1b(0lqqk\x1b(B", "\x1b(0x"}[rnd.IntN(2)] },
		func() string {
			return []string{"\x1bM", "\x1bD", "\x1bE", "\x1b[2L", "\x1b[M", "\x1b[3P", "\x1b[2@", "\x1b[S", "\x1b[T"}[rnd.IntN(9)]
		},
		func() string {
			m := []int{1, 4, 5, 7, 9, 12, 20, 25, 1000, 1002, 1003, 1004, 1006, 1034}[rnd.IntN(14)]
			priv := "?"
			if m == 4 || m == 12 || m == 20 {
				priv = ""
			}
			return fmt.Sprintf("\x1b[%s%d%c", priv, m, "hl"[rnd.IntN(2)])
		},
		func() string { return []string{"\x1b=", "\x1b>"}[rnd.IntN(2)] },
		func() string { return fmt.Sprintf("\x1b]2;title %d\x07", rnd.IntN(100)) },
		func() string { return "0123456789012345678901234567890123456789" },
	}
	var b []byte
	for len(b) < n {
		b = append(b, pieces[rnd.IntN(len(pieces))]()...)
	}
	return b
}

// comparable drops what the repaint does not restore: the wrap marks of
// vt10x, the content of the alternate screen while it is not shown, the
// keyboard lock, and the saved cursor's pending wrap (restoring a cursor
// clears it).
func comparable(s *vtState) *vtState {
	c := *s
	strip := func(lines [][]vt10x.Glyph) [][]vt10x.Glyph {
		out := make([][]vt10x.Glyph, len(lines))
		for y, row := range lines {
			out[y] = make([]vt10x.Glyph, len(row))
			for x, g := range row {
				g.Mode &^= attrWrap
				out[y][x] = g
			}
		}
		return out
	}
	c.lines = strip(s.lines)
	c.other = nil
	if s.mode&vt10x.ModeAltScreen != 0 {
		c.other = strip(s.other)
	}
	c.mode &^= vt10x.ModeKeyboardLock
	c.saved.State &^= cursorWrapNext
	return &c
}

// stateDiff describes the first difference between two states, "" if none.
func stateDiff(got, want *vtState) string {
	for _, screen := range []struct {
		name      string
		got, want [][]vt10x.Glyph
	}{{"screen", got.lines, want.lines}, {"other screen", got.other, want.other}} {
		if len(screen.got) != len(screen.want) {
			return fmt.Sprintf("%s: %d rows, want %d", screen.name, len(screen.got), len(screen.want))
		}
		for y := range screen.got {
			if !reflect.DeepEqual(screen.got[y], screen.want[y]) {
				for x := range screen.got[y] {
					if screen.got[y][x] != screen.want[y][x] {
						return fmt.Sprintf("%s: cell %d,%d is %+v, want %+v", screen.name, x, y, screen.got[y][x], screen.want[y][x])
					}
				}
			}
		}
	}
	g, w := *got, *want
	g.lines, g.other, w.lines, w.other = nil, nil, nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
	}
	return ""
}

// A repaint written to a new screen gives the same state, and the two
// screens stay the same when the same output follows.
func TestRepaintRestoresState(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	checked := 0
	for i := 0; i < 300; i++ {
		cols, rows := 20+rnd.IntN(30), 5+rnd.IntN(20)
		a := New(cols, rows)
		a.Write(randomOutput(rnd, rnd.IntN(3000)))
		if !a.Ground() {
			continue
		}
		checked++
		b := New(cols, rows)
		repaint := a.Repaint()
		if j := bytes.Index(repaint, []byte("\x1b[?1049h")); j >= 0 {
			// Real terminals keep the cursor saved on entering the
			// alternate screen apart from DECSC's: it must be the
			// saved cursor already.
			b.Write(repaint[:j+8])
			if got, want := comparable(capture(b.vt)).saved, comparable(capture(a.vt)).saved; got != want {
				t.Fatalf("case %d: entering the alternate screen saves %+v, want %+v", i, got, want)
			}
			b = New(cols, rows)
		}
		b.Write(repaint)
		if d := stateDiff(comparable(capture(b.vt)), comparable(capture(a.vt))); d != "" {
			t.Fatalf("case %d: repainted state differs: %s\nrepaint %q", i, d, a.Repaint())
		}
		more := randomOutput(rnd, 2000)
		a.Write(more)
		b.Write(more)
		if d := stateDiff(comparable(capture(b.vt)), comparable(capture(a.vt))); d != "" {
			t.Fatalf("case %d: states differ after the same output: %s", i, d)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d cases ended between sequences", checked)
	}
}

func TestGround(t *testing.T) {
	s := New(10, 2)
	for _, c := range []struct {
		out    string
		ground bool
	}{{"abc", true}, {"\x1b", false}, {"[3", false}, {"1m", true}, {"\xe2\x9c", false}, {"\x93", true}, {"\x1b]2;t", false}, {"\x07", true}} {
		s.Write([]byte(c.out))
		if s.Ground() != c.ground {
			t.Errorf("after %q: Ground() = %v", c.out, !c.ground)
		}
	}
}
