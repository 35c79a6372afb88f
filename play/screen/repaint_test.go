package screen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomOutput is terminal output using everything the repaint restores:
// text, line drawing, colours and attributes, cursor moves, erasing,
// inserting and deleting, scrolling and scroll regions, origin mode, the
// alternate screen, saved cursors, tab stops, modes, resets and titles.
func randomOutput(rnd *rand.Rand, n int) []byte {
	pick := func(s ...string) string { return s[rnd.IntN(len(s))] }
	pieces := []func() string{
		func() string { return "hello wörld ✓ " },
		func() string { return "0123456789012345678901234567890123456789" },
		func() string { return pick("\r\n", "\n", "\r", "\b", "\t|", "\x0e", "\x0f") },
		func() string { return fmt.Sprintf("\x1b[%d;%dH", rnd.IntN(26), rnd.IntN(52)) },
		func() string { return fmt.Sprintf("\x1b[%d%c", rnd.IntN(5), "ABCDEFGIZ`adeb"[rnd.IntN(14)]) },
		func() string {
			return fmt.Sprintf("\x1b[%d;%dm", []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 22, 24, 27}[rnd.IntN(12)], 30+rnd.IntN(10))
		},
		func() string { return fmt.Sprintf("\x1b[%dm", []int{41, 49, 92, 104, 39, 0}[rnd.IntN(6)]) },
		func() string {
			return fmt.Sprintf("\x1b[38;5;%dm\x1b[48;2;%d;%d;%dm", rnd.IntN(256), rnd.IntN(256), rnd.IntN(256), rnd.IntN(256))
		},
		func() string { return fmt.Sprintf("\x1b[%dJ", rnd.IntN(4)) },
		func() string { return fmt.Sprintf("\x1b[%dK", rnd.IntN(3)) },
		func() string { return fmt.Sprintf("\x1b[%d%c", rnd.IntN(4), "XP@LMST"[rnd.IntN(7)]) },
		func() string { return fmt.Sprintf("\x1b[%d;%dr", 1+rnd.IntN(6), 4+rnd.IntN(20)) },
		func() string { return "\x1b[r" },
		func() string { return pick("\x1b[?6h", "\x1b[?6l") },
		func() string {
			return pick("\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h", "\x1b[?47l", "\x1b[?1047h", "\x1b[?1047l", "\x1b[?1048h", "\x1b[?1048l")
		},
		func() string { return pick("\x1b7", "\x1b8", "\x1b[s", "\x1b[u") },
		func() string { return pick("\x1bH", "\x1b[g", "\x1b[3g") },
		func() string { return pick("\x1b(0lqqk\x1b(B", "\x1b(0x", "\x1b)0", "\x1b)B") },
		func() string { return pick("\x1bM", "\x1bD", "\x1bE") },
		func() string { return pick("\x1b[4h", "\x1b[4l", "\x1b[20h", "\x1b[20l") },
		func() string {
			return fmt.Sprintf("\x1b[?%d%c", []int{5, 7, 25, 1, 1000}[rnd.IntN(5)], "hl"[rnd.IntN(2)])
		},
		func() string { return fmt.Sprintf("\x1b]2;title %d\x07", rnd.IntN(100)) },
		func() string { return pick("\x1bc", "\x1b[!p") },
	}
	var b []byte
	for len(b) < n {
		b = append(b, pieces[rnd.IntN(len(pieces))]()...)
	}
	return b
}

// snapshot is what Repaint restores of a screen, in a form to compare.
type snapshot struct {
	Cols, Rows           int
	Shown, Main          [][]cell // every cell; Main only when the alternate screen is shown
	Wrapped, MainWraps   []bool   // but not the last row's: a repaint cannot wrap there
	Cur, Saved, OtherSav cursor   // the other buffer's saved cursor
	WrapNext             bool
	Top, Bot             int
	Autowrap, Insert     bool
	Newline, Reverse     bool
	Hidden, AltShown     bool
	Tabs                 []bool
	Title                string
}

func cellsOf(rows []*row, cols int) ([][]cell, []bool) {
	cells := make([][]cell, len(rows))
	wraps := make([]bool, len(rows))
	for y, r := range rows {
		for x := range cols {
			cells[y] = append(cells[y], r.at(x))
		}
		wraps[y] = r.wrapped && y < len(rows)-1
	}
	return cells, wraps
}

func snap(s *Screen) snapshot {
	n := snapshot{Cols: s.cols, Rows: s.rows, Cur: s.cur, Saved: s.buf.saved, WrapNext: s.wrapNext,
		Top: s.top, Bot: s.bot, Autowrap: s.autowrap, Insert: s.insert, Newline: s.newline, Reverse: s.reverse,
		Hidden: s.hidden, AltShown: s.buf == &s.alt, Tabs: s.tabs, Title: s.title}
	n.Shown, n.Wrapped = cellsOf(s.buf.rows, s.cols)
	n.OtherSav = s.alt.saved
	if n.AltShown {
		n.Main, n.MainWraps = cellsOf(s.main.rows, s.cols)
		n.OtherSav = s.main.saved
	}
	return n
}

func diff(got, want snapshot) string {
	for _, c := range []struct {
		name      string
		got, want [][]cell
	}{{"screen", got.Shown, want.Shown}, {"main screen", got.Main, want.Main}} {
		for y := range min(len(c.got), len(c.want)) {
			for x := range c.got[y] {
				if c.got[y][x] != c.want[y][x] {
					return fmt.Sprintf("%s: cell %d,%d is %+v, want %+v", c.name, x, y, c.got[y][x], c.want[y][x])
				}
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		got.Shown, got.Main, want.Shown, want.Main = nil, nil, nil, nil
		return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
	}
	return ""
}

// A repaint written to a new screen gives the same state, and the two
// screens stay the same when the same output follows.
func TestRepaintRestoresState(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	checked := 0
	for i := 0; i < 400; i++ {
		cols, rows := 20+rnd.IntN(30), 5+rnd.IntN(20)
		a := New(cols, rows)
		a.Write(randomOutput(rnd, rnd.IntN(3000)))
		if !a.Ground() {
			continue
		}
		checked++
		b := New(cols, rows)
		repaint := a.Repaint()
		b.Write(repaint)
		if d := diff(snap(b), snap(a)); d != "" {
			t.Fatalf("case %d: repainted state differs: %s\nrepaint %q", i, d, repaint)
		}
		if bytes.ContainsAny(repaint, "\x05") || bytes.Contains(repaint, []byte("\x1b[c")) {
			t.Fatalf("case %d: the repaint asks the terminal something: %q", i, repaint)
		}
		more := randomOutput(rnd, 2000)
		a.Write(more)
		b.Write(more)
		if d := diff(snap(b), snap(a)); d != "" {
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
