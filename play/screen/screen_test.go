package screen

import (
	"slices"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	for _, c := range []struct {
		name string
		out  string
		want []string
	}{
		{"crlf", "one\r\ntwo\r\n", []string{"one", "two"}},
		{"lf keeps column", "ab\ncd", []string{"ab", "  cd"}},
		{"cr overwrite", "12345\rab", []string{"ab345"}},
		{"colours ignored", "\x1b[1;31mred\x1b[0m \x1b[38;5;208morange\x1b[m", []string{"red orange"}},
		{"cursor position", "\x1b[3;5Hx\x1b[1;1Hy", []string{"y", "", "    x"}},
		{"cursor up and forward", "line1\r\nline2\x1b[A\x1b[2C!", []string{"line1  !", "line2"}},
		{"clear to end of line", "hello you\r\x1b[5C\x1b[K", []string{"hello"}},
		{"clear line", "hello\x1b[2K\rbye", []string{"bye"}},
		{"clear screen", "a\r\nb\x1b[2J\x1b[Hc", []string{"c"}},
		{"backspace", "abc\b\bX", []string{"aXc"}},
		{"wrap", "0123456789ab", []string{"0123456789", "ab"}},
		{"utf-8", "héllo ✓", []string{"héllo ✓"}},
		{"invalid utf-8 ignored", "a\xffb\xc3", []string{"ab"}},
		{"line drawing", "\x1b(0lqk\x1b(B x \x0e\x1b)0q\x0fq", []string{"┌─┐ x ─q"}},
		{"insert mode", "abc\r\x1b[4hX\x1b[4l", []string{"Xabc"}},
		{"insert and delete chars", "abcdef\r\x1b[2@\x1b[4C\x1b[P", []string{"  abdef"}},
		{"erase chars", "abcdef\r\x1b[2C\x1b[2X", []string{"ab  ef"}},
		{"repeat", "ab\x1b[3b", []string{"abbbb"}},
		{"tabs", "a\tb\x1b[3gc\td\x1b[Ze", []string{"e       bd"}},
		{"C1 CSI as UTF-8", "ab\u009b2Dc", []string{"cb"}},
		{"title and strings", "\x1b]2;t\x07a\x1bPq#0\x1b\\b\x1b_x\x1b\\c", []string{"abc"}},
		{"cancelled sequence", "a\x1b[3\x18b", []string{"ab"}},
	} {
		s := New(10, 4)
		s.Write([]byte(c.out))
		want := append(c.want, make([]string, 4-len(c.want))...)
		if got := s.Lines(); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", c.name, got, want)
		}
	}
}

// Escape sequences and UTF-8 characters split across writes.
func TestSplitWrites(t *testing.T) {
	out := "\x1b[31mré\x1b[0m✓\x1b[2;3Hx\x1b]2;ti\xc3\xa9\x07"
	for i := range len(out) + 1 {
		s := New(10, 3)
		s.Write([]byte(out[:i]))
		s.Write([]byte(out[i:]))
		if got := s.Lines(); !slices.Equal(got, []string{"ré✓", "  x", ""}) || s.title != "tié" {
			t.Errorf("split at %d: %q, title %q", i, got, s.title)
		}
	}
}

func TestFitSize(t *testing.T) {
	for _, c := range []struct{ cols, rows, pc, pr, wc, wr int }{
		{0, 0, 0, 0, 80, 24},
		{0, 0, 100, 30, 100, 30},
		{0, 50, 100, 30, 100, 50},
		{-1, 65535, 0, 0, 80, MaxRows},
		{65535, 65535, 10, 10, MaxCols, MaxRows},
		{1, 1, 80, 24, 1, 1},
	} {
		if c2, r2 := FitSize(c.cols, c.rows, c.pc, c.pr); c2 != c.wc || r2 != c.wr {
			t.Errorf("FitSize(%d, %d, %d, %d) = %dx%d, want %dx%d", c.cols, c.rows, c.pc, c.pr, c2, r2, c.wc, c.wr)
		}
	}
	s := New(0, 0)
	s.Resize(65535, 65535)
	if c, r := s.Size(); c != MaxCols || r != MaxRows {
		t.Fatalf("size %dx%d", c, r)
	}
	s.Resize(0, 0)
	if c, r := s.Size(); c != MaxCols || r != MaxRows {
		t.Fatalf("0x0 changed the size to %dx%d", c, r)
	}
}

// gathered is a screen that records every line that leaves it.
type gathered struct {
	*Screen
	scrolled []string
	cleared  [][]string
}

func gather(cols, rows int) *gathered {
	g := &gathered{Screen: New(cols, rows)}
	g.OnScroll = func(l Line) { g.scrolled = append(g.scrolled, l.Text) }
	g.OnClear = func(ls []Line) {
		var texts []string
		for _, l := range ls {
			texts = append(texts, l.Text)
		}
		g.cleared = append(g.cleared, texts)
	}
	return g
}

// all is every line reported, then what Flush reports.
func (g *gathered) all() []string {
	g.Flush()
	out := slices.Clone(g.scrolled)
	for _, c := range g.cleared {
		out = append(out, c...)
	}
	return out
}

func TestScroll(t *testing.T) {
	g := gather(5, 3)
	g.Write([]byte("1\r\n2\r\n3\r\n4\r\n"))
	if !slices.Equal(g.scrolled, []string{"1", "2"}) || !slices.Equal(g.Lines(), []string{"3", "4", ""}) {
		t.Fatalf("gone %q, screen %q", g.scrolled, g.Lines())
	}
	// Wrapping on the last row scrolls too; the wrapped line leaves whole.
	g.Write([]byte("abcdefg\r\n\r\n\r\n"))
	if !slices.Equal(g.scrolled, []string{"1", "2", "3", "4", "abcdefg"}) || !slices.Equal(g.Lines(), []string{"", "", ""}) {
		t.Fatalf("gone %q, screen %q", g.scrolled, g.Lines())
	}
}

// Every way a line leaves the screen reports it, so that the text export
// and search see it. Each case writes "secret" and then something that
// makes it go.
func TestEveryLineLeaves(t *testing.T) {
	for _, c := range []struct{ name, out string }{
		{"SU", "\x1b[999S"},
		{"SU in region", "\x1b[2;4r\x1b[4S"},
		{"line feeds in a region from the top (tmux)", "\x1b[1;5r\x1b[5;1H\n\n\n\n\n\n"},
		{"line feeds in a region below the top", "\x1b[2;6r\x1b[6;1H\n\n\n\n\n\n"},
		{"DL", "\x1b[2;1H\x1b[3M"},
		{"IL", "\x1b[1;1H\x1b[9L"},
		{"SD", "\x1b[9T"},
		{"reverse index", "\x1b[H\x1bM\x1bM\x1bM\x1bM\x1bM\x1bM"},
		{"RIS", "\x1bc"},
		{"ED 2", "\x1b[2J"},
		{"ED 3 and 2", "\x1b[3J\x1b[2J"},
		{"ED 0 from home", "\x1b[H\x1b[J"},
		{"ED 0 below", "\x1b[1;1H\x1b[0J"},
		{"ED 1 above", "\x1b[6;1H\x1b[1J"},
		{"DECSED", "\x1b[?2J"},
		{"alternate screen 1049", "\x1b[?1049h\x1b[2J\x1b[Hsecret on alt\x1b[?1049l\x1b[2J"},
		{"alternate screen 47", "\x1b[?47hsecret on alt\x1b[?47l"},
		{"alternate screen 1047", "\x1b[?1047hsecret on alt\x1b[?1047l"},
		{"ended in the alternate screen", "\x1b[?1049h\x1b[2J"},
		{"overwritten after a reset", "\x1bc\x1b[?1049h\x1b[?1049l"},
	} {
		g := gather(20, 6)
		g.Write([]byte("\x1b[2;3Hsecret\r\n"))
		g.Write([]byte(c.out))
		g.Write([]byte("\x1b[Hcover"))
		all := strings.Join(g.all(), "\n")
		if !strings.Contains(all, "secret") {
			t.Errorf("%s: the line is lost: %q", c.name, all)
		}
		if strings.Contains(c.out, "on alt") && !strings.Contains(all, "secret on alt") {
			t.Errorf("%s: the alternate screen's line is lost: %q", c.name, all)
		}
	}
}

// A smaller window reports the rows and row ends it cuts off.
func TestResize(t *testing.T) {
	g := gather(20, 4)
	g.Write([]byte("row one\r\nrow two, longer\r\nthree"))
	g.Resize(6, 2)
	if want := []string{"row one"}; !slices.Equal(g.scrolled, want) {
		t.Errorf("scrolled %q, want %q", g.scrolled, want)
	}
	if want := [][]string{{"row two, longer"}}; !slices.EqualFunc(g.cleared, want, slices.Equal) {
		t.Errorf("cleared %q, want %q", g.cleared, want)
	}
	if want := []string{"row tw", "three"}; !slices.Equal(g.Lines(), want) {
		t.Errorf("screen %q, want %q", g.Lines(), want)
	}
	g.Resize(1, 1)
	g.Resize(10, 3)
	if c, r := g.Size(); c != 10 || r != 3 || !slices.Equal(g.Lines(), []string{"t", "", ""}) {
		t.Errorf("%dx%d %q", c, r, g.Lines())
	}
}

// Text cut by the end of a row is joined again: a marker cannot be hidden
// by padding it across the wrap, nor by a window one column wide.
func TestWrappedLinesJoin(t *testing.T) {
	g := gather(10, 3)
	g.Write([]byte("$ xxxxxx secret\r\n\r\n\r\n\r\n"))
	if !slices.Equal(g.scrolled, []string{"$ xxxxxx secret", ""}) {
		t.Errorf("scrolled %q", g.scrolled)
	}
	narrow := gather(1, 3)
	narrow.Write([]byte("a secret\r\nnext"))
	if all := narrow.all(); !slices.Equal(all, []string{"a secret", "next"}) {
		t.Errorf("one column: %q", all)
	}
	if text := New(4, 3); true {
		text.Write([]byte("abcdefgh"))
		if got := text.Text(); !slices.Equal(got, []string{"abcdefgh"}) {
			t.Errorf("Text %q", got)
		}
	}
}

// Changed sees each changed line once, with its mark.
func TestChanged(t *testing.T) {
	s := New(10, 3)
	var seen []string
	check := func(text string, marked bool) bool {
		if marked {
			text += "*"
		}
		seen = append(seen, text)
		return strings.Contains(text, "x")
	}
	s.Write([]byte("ax\r\nb"))
	s.Changed(check)
	if !slices.Equal(seen, []string{"ax", "b", ""}) {
		t.Fatalf("first: %q", seen)
	}
	seen = nil
	s.Write([]byte("\x1b[1;3Hy"))
	s.Changed(check)
	if !slices.Equal(seen, []string{"axy*"}) {
		t.Fatalf("second: %q", seen)
	}
	var left []Line
	s.OnScroll = func(l Line) { left = append(left, l) }
	s.Write([]byte("\x1b[S"))
	if len(left) != 1 || left[0] != (Line{"axy", true}) {
		t.Fatalf("left %+v", left)
	}
}

// Changed shows a long line in part, around what changed, but enough of
// it to find text spread over many rows of a narrow screen.
func TestChangedLongLine(t *testing.T) {
	s := New(1, 50)
	found := false
	for _, c := range "a secret here" {
		s.Write([]byte(string(c)))
		s.Changed(func(text string, _ bool) bool {
			found = found || strings.Contains(text, "secret")
			return false
		})
	}
	if !found {
		t.Error("not found on a screen one column wide")
	}
	wide := New(MaxCols, MaxRows)
	wide.Write([]byte(strings.Repeat("x", MaxCols*(MaxRows-1))))
	wide.Changed(func(string, bool) bool { return false })
	wide.Write([]byte("!"))
	var got []string
	wide.Changed(func(text string, _ bool) bool { got = append(got, text); return false })
	if len(got) != 1 || len(got[0]) > 3*checkSpan || !strings.HasSuffix(got[0], "x!") {
		t.Errorf("%d lines, the first %d long", len(got), len(got[0]))
	}
}

// asciiRun finds the first byte that is not printable ASCII wherever it
// is, whatever it is and whatever follows it.
func TestASCIIRun(t *testing.T) {
	for n := range 20 {
		for at := range n {
			for v := range 256 {
				p := []byte(strings.Repeat("~", n))
				for i := at; i < n; i++ {
					p[i] = byte(v + (i-at)*37)
				}
				want := 0
				for want < n && p[want] >= 0x20 && p[want] < 0x7f {
					want++
				}
				if got := asciiRun(p); got != want {
					t.Fatalf("%q: %d, want %d", p, got, want)
				}
			}
		}
	}
}
