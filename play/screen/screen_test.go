package screen

import (
	"slices"
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
		{"invalid utf-8 ignored", "a\xffb", []string{"ab"}},
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
	out := "\x1b[31mré\x1b[0m✓\x1b[2;3Hx"
	for i := range len(out) + 1 {
		s := New(10, 3)
		s.Write([]byte(out[:i]))
		s.Write([]byte(out[i:]))
		if got := s.Lines(); !slices.Equal(got, []string{"ré✓", "  x", ""}) {
			t.Errorf("split at %d: %q", i, got)
		}
	}
}

func TestScroll(t *testing.T) {
	s := New(5, 3)
	var gone []string
	s.OnScroll = func(l string) { gone = append(gone, l) }
	s.Write([]byte("1\r\n2\r\n3\r\n4\r\n"))
	if !slices.Equal(gone, []string{"1", "2"}) || !slices.Equal(s.Lines(), []string{"3", "4", ""}) {
		t.Fatalf("gone %q, screen %q", gone, s.Lines())
	}
	// Wrapping on the last row scrolls too.
	s.Write([]byte("abcdefg"))
	if !slices.Equal(gone, []string{"1", "2", "3"}) || !slices.Equal(s.Lines(), []string{"4", "abcde", "fg"}) {
		t.Fatalf("gone %q, screen %q", gone, s.Lines())
	}
	// A line feed in a scroll region below the top scrolls nothing off.
	s.Write([]byte("\x1b[2;3r\x1b[3;1H\nx"))
	if !slices.Equal(gone, []string{"1", "2", "3"}) || !slices.Equal(s.Lines(), []string{"4", "fg", "x"}) {
		t.Fatalf("scroll region: gone %q, screen %q", gone, s.Lines())
	}
}

func TestClear(t *testing.T) {
	s := New(8, 3)
	var cleared [][]string
	s.OnClear = func(l []string) { cleared = append(cleared, l) }
	s.Write([]byte("top\r\nJ-mid\x1b[H\x1b[2J\x1b[2J"))
	s.Write([]byte("new\x1b[H\x1b[J"))
	// The second 2J finds the screen blank already.
	if len(cleared) != 2 || !slices.Equal(cleared[0], []string{"top", "J-mid"}) || !slices.Equal(cleared[1], []string{"new"}) {
		t.Fatalf("cleared %q", cleared)
	}
}

func TestResize(t *testing.T) {
	s := New(0, 0)
	if c, r := s.Size(); c != 1 || r != 1 {
		t.Fatalf("size %dx%d", c, r)
	}
	s.Resize(6, 2)
	s.Write([]byte("ab\r\ncd\r\nef"))
	s.Resize(3, 3)
	if got := s.Lines(); !slices.Equal(got, []string{"cd", "ef", ""}) {
		t.Fatalf("%q", got)
	}
	if got := s.Text(); !slices.Equal(got, []string{"cd", "ef"}) {
		t.Fatalf("text %q", got)
	}
	// Shrinking below the cursor drops the top lines, as a scroll would.
	var gone []string
	s.OnScroll = func(l string) { gone = append(gone, l) }
	s.Write([]byte("\r\ngh"))
	s.Resize(3, 1)
	if !slices.Equal(gone, []string{"cd", "ef"}) || !slices.Equal(s.Lines(), []string{"gh"}) {
		t.Fatalf("gone %q, screen %q", gone, s.Lines())
	}
}
