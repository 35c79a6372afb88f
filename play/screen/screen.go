// Package screen models a terminal screen fed with recorded output, using
// the VT emulator github.com/hinshun/vt10x, and reports the lines that
// leave it: scrolled off the top, or wiped by a clear-screen.
package screen

import (
	"strings"
	"unicode/utf8"

	"github.com/hinshun/vt10x"
)

// Screen is a terminal screen. It is not safe for concurrent use.
type Screen struct {
	vt         vt10x.Terminal
	cols, rows int
	partial    []byte // an incomplete UTF-8 sequence at the end of the last write

	// OnScroll, if set, receives each line that scrolls off the top of
	// the screen (trailing spaces trimmed).
	OnScroll func(line string)
	// OnClear, if set, receives the screen's lines just before an erase
	// (ED) leaves the whole screen blank.
	OnClear func(lines []string)
}

// New returns a blank screen of cols×rows (at least 1×1).
func New(cols, rows int) *Screen {
	cols, rows = max(cols, 1), max(rows, 1)
	return &Screen{vt: vt10x.New(vt10x.WithSize(cols, rows)), cols: cols, rows: rows}
}

// Size returns the screen's size.
func (s *Screen) Size() (cols, rows int) { return s.cols, s.rows }

// Resize changes the screen's size (at least 1×1). When the cursor would
// fall below the new last row, the lines at the top leave the screen as if
// scrolled off (OnScroll receives them).
func (s *Screen) Resize(cols, rows int) {
	cols, rows = max(cols, 1), max(rows, 1)
	var gone []string
	if slide := s.vt.Cursor().Y - rows + 1; slide > 0 && s.OnScroll != nil {
		gone = s.Lines()[:slide]
	}
	s.cols, s.rows = cols, rows
	s.vt.Resize(cols, rows)
	for _, l := range gone {
		s.OnScroll(l)
	}
}

// Write applies terminal output. Escape sequences and UTF-8 characters
// may be split across writes; invalid UTF-8 bytes are ignored.
func (s *Screen) Write(p []byte) {
	if len(s.partial) > 0 {
		p = append(s.partial, p...)
		s.partial = nil
	}
	if s.OnScroll == nil && s.OnClear == nil {
		// Nothing to watch for: the emulator takes all the complete
		// characters at once, which is cheaper than one by one.
		n := len(p) - partialTail(p)
		_, _ = s.vt.Write(p[:n])
		if n < len(p) {
			s.partial = append([]byte(nil), p[n:]...)
		}
		return
	}
	for len(p) > 0 {
		if !utf8.FullRune(p) {
			s.partial = append([]byte(nil), p...)
			return
		}
		_, size := utf8.DecodeRune(p)
		s.put(p[:size])
		p = p[size:]
	}
}

// partialTail is the length of the incomplete UTF-8 character at the end
// of p (0 if there is none), which the emulator would drop.
func partialTail(p []byte) int {
	for i := max(len(p)-3, 0); i < len(p); i++ {
		if p[i] >= 0xc0 && !utf8.FullRune(p[i:]) {
			return len(p) - i
		}
	}
	return 0
}

// Ground tells whether the output so far ends between characters and
// escape sequences: output written after Repaint's then reads the same.
func (s *Screen) Ground() bool { return len(s.partial) == 0 && inGround(s.vt) }

// Repaint returns the escape sequences that bring a terminal of the
// screen's size, freshly reset, to what the screen shows and to its state:
// both screens when the alternate one is shown, cursor, attributes,
// character set, scroll region, tab stops, saved cursor, modes and title.
// Written to a new Screen, it gives the same state.
func (s *Screen) Repaint() []byte { return capture(s.vt).repaint() }

// put applies one character (or one invalid byte), watching for the ways
// lines leave the screen: a line feed, index, next line, scroll up or wrap
// on the last row can scroll the top line off; an erase can blank the
// screen. Only then is the screen compared before and after.
func (s *Screen) put(c []byte) {
	cur := s.vt.Cursor()
	scroll := s.OnScroll != nil && s.rows > 1 && cur.Y == s.rows-1 &&
		(c[0] == '\n' || c[0] == '\v' || c[0] == '\f' || c[0] == 'D' || c[0] == 'E' || c[0] == 'S' || cur.X == s.cols-1)
	clear := s.OnClear != nil && c[0] == 'J'
	if !scroll && !clear {
		s.vt.Write(c)
		return
	}
	if scroll && !clear && c[0] <= '\f' {
		// A control character (line feed) moves the cursor or scrolls: row 0
		// then either stays or takes row 1's text, which tells them
		// apart unless the two were the same.
		top, second := s.line(0), s.line(1)
		if top != second {
			s.vt.Write(c)
			if s.line(0) == second {
				s.OnScroll(top)
			}
			return
		}
	}
	before := s.Lines()
	s.vt.Write(c)
	if scroll && s.scrolled(before) {
		s.OnScroll(before[0])
		return
	}
	if clear && !blank(before) && blank(s.Lines()) {
		s.OnClear(trimBlank(before))
	}
}

// scrolled tells whether every line moved up by one since before. Lines
// that stay put (no scroll, or a scroll region below the top) break the
// match, unless all lines were the same.
func (s *Screen) scrolled(before []string) bool {
	for y := 0; y < s.rows-1; y++ {
		if s.line(y) != before[y+1] {
			return false
		}
	}
	return true
}

// line is row y, trailing spaces trimmed.
func (s *Screen) line(y int) string {
	var b strings.Builder
	for x := range s.cols {
		r := s.vt.Cell(x, y).Char
		if r == 0 {
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// Lines returns the visible rows, top first, trailing spaces trimmed.
func (s *Screen) Lines() []string {
	lines := make([]string, s.rows)
	for y := range lines {
		lines[y] = s.line(y)
	}
	return lines
}

// Text returns the visible rows without the blank rows at the bottom.
func (s *Screen) Text() []string { return trimBlank(s.Lines()) }

func blank(lines []string) bool {
	for _, l := range lines {
		if l != "" {
			return false
		}
	}
	return true
}

// trimBlank drops the trailing empty lines.
func trimBlank(lines []string) []string {
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	return lines[:n]
}
