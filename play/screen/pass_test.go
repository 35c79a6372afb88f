package screen

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// plainOutput is n bytes of mostly plain lines (printable text and tabs,
// as wide as cols and around it, ended by CR LF), with some of anything
// else between them.
func plainOutput(rnd *rand.Rand, n, cols int) []byte {
	var b []byte
	for len(b) < n {
		switch rnd.IntN(100) {
		case 0:
			// More lines than pass at a time.
			for range maxPass + rnd.IntN(2*maxPass) {
				b = append(b, strings.Repeat("z", rnd.IntN(4))+"\r\n"...)
			}
			continue
		}
		switch rnd.IntN(14) {
		case 0:
			b = append(b, randomOutput(rnd, 1+rnd.IntN(20))...)
		case 1:
			b = append(b, strings.Repeat("\r\n", 1+rnd.IntN(30))...)
		case 2:
			// A line wrapped into the last row, which is then erased.
			b = append(b, strings.Repeat("w", cols+1+rnd.IntN(3))...)
			b = append(b, "\x1b[2K\r"...)
		default:
			w := rnd.IntN(cols + 3)
			if rnd.IntN(3) == 0 {
				w = max(cols-1+rnd.IntN(3), 0) // as wide as a row, or just wider
			}
			for i := 0; i < w; i++ {
				if rnd.IntN(10) == 0 {
					b = append(b, '\t')
				} else {
					b = append(b, byte(' '+rnd.IntN(95))) // spaces too: a line of only spaces is blank
				}
			}
			if rnd.IntN(4) == 0 {
				b = append(b, ' ', ' ')
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// record is what a screen reported and is.
type record struct {
	events []string
	s      *Screen
}

func newRecord(cols, rows int) *record {
	r := &record{s: New(cols, rows)}
	r.s.OnScroll = func(l Line) { r.events = append(r.events, fmt.Sprintf("scroll %q %v", l.Text, l.Marked)) }
	r.s.OnClear = func(ls []Line) { r.events = append(r.events, fmt.Sprintf("clear %+v", ls)) }
	return r
}

func (r *record) changed() {
	r.s.Changed(func(text string, marked bool) bool {
		r.events = append(r.events, fmt.Sprintf("changed %q %v", text, marked))
		return len(text)%3 != 0
	})
}

// state is all of a screen's state that output changes.
func (r *record) state() string {
	s := r.s
	var b strings.Builder
	fmt.Fprintf(&b, "%+v last %q dirty %v pend %q %v\n", snap(s), s.last, s.anyDirty, s.pend.b, s.pend.mark)
	for _, buf := range []*buffer{&s.main, &s.alt} {
		for y, row := range buf.rows {
			fmt.Fprintf(&b, "%d %v %+v wrapped %v dirty %v mark %v\n", y, row.cells, row.tail, row.wrapped, row.dirty, row.mark)
		}
	}
	return b.String()
}

// Lines passing through report and leave what writing them one by one
// does: the same output written whole and a byte at a time (in which no
// line passes) gives the same reports and the same state, with Changed
// and resizes between the writes.
func TestPassLines(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	for i := range 300 {
		cols, rows := 1+rnd.IntN(90), 1+rnd.IntN(30)
		if i%3 == 0 {
			cols, rows = 80, 24
		}
		whole, bytewise := newRecord(cols, rows), newRecord(cols, rows)
		out := plainOutput(rnd, 200+rnd.IntN(20000), cols)
		for len(out) > 0 {
			n := min(len(out), 1+rnd.IntN(4000))
			if rnd.IntN(2) == 0 {
				// A screen's worth or more of plain lines, the case
				// that passes.
				n = len(out)
			}
			whole.s.Write(out[:n])
			for _, b := range out[:n] {
				bytewise.s.Write([]byte{b})
			}
			out = out[n:]
			whole.changed()
			bytewise.changed()
			if rnd.IntN(10) == 0 {
				c, r := 1+rnd.IntN(90), 1+rnd.IntN(30)
				whole.s.Resize(c, r)
				bytewise.s.Resize(c, r)
			}
			if !reflect.DeepEqual(whole.events, bytewise.events) {
				for j := range min(len(whole.events), len(bytewise.events)) {
					if whole.events[j] != bytewise.events[j] {
						t.Fatalf("screen %dx%d, report %d: %s, written a byte at a time %s", cols, rows, j, whole.events[j], bytewise.events[j])
					}
				}
				t.Fatalf("screen %dx%d: %d reports, written a byte at a time %d", cols, rows, len(whole.events), len(bytewise.events))
			}
			if w, b := whole.state(), bytewise.state(); w != b {
				t.Fatalf("screen %dx%d: state\n%s\nwritten a byte at a time\n%s", cols, rows, w, b)
			}
		}
	}
}

// A screen's worth of plain lines and more pass, from where a write
// leaves the cursor at the start of the last row; fewer, or other output
// before, do not.
func TestPassLinesTaken(t *testing.T) {
	line := "a line\tand a tab\r\n"
	lines := strings.Repeat(line, 30)
	for _, c := range []struct {
		before, out string
		took        int
	}{
		{"\x1b[24H", lines, len(lines)},
		{"\x1b[24H", strings.Repeat(line, 2*maxPass), maxPass * len(line)},
		{"\x1b[24H", lines + "\x1b[m", len(lines)},
		{"\x1b[24H", lines[:23*len(line)], 0},
		{"\x1b[24H", lines[:24*len(line)], 24 * len(line)},
		{"\x1b[23H", lines, 0},
		{"\x1b[24Hx\r", lines, 0},
		{"\x1b[24H\x1b[2;20r", lines, 0},
		{"\x1b[24H\x1b[4h", lines, 0},
		{"\x1b[24H\x1b(0", lines, 0},
		{"\x1b[24H", strings.Repeat("x", 81) + "\r\n" + lines, 0},
		{"\x1b[24H", strings.Repeat("x", 80) + "\r\n" + lines, 80 + 2 + len(lines)},
	} {
		s := New(80, 24)
		s.Write([]byte(c.before))
		if took, _ := s.passLines([]byte(c.out)); took != c.took {
			t.Errorf("%q then %q: took %d bytes, want %d", c.before, c.out, took, c.took)
		}
	}
}
