package screen

import "bytes"

// Most of what scrolls by in a flood of output (a log, a listing, cat of a
// file) is lines of printable text, each ended by CR LF, written at the
// bottom of the screen and scrolled off before the output ends. Such a
// line's text is its bytes, its tabs expanded: passLines reports it
// without writing it into cells and reading it back, and without moving
// every row of the screen once for each line. What it does is what
// writing the lines one by one does (the differential test checks it).

// passable tells whether lines written now may pass through: the cursor
// waits at the start of the blank last row, which no line wraps into, of a
// screen that scrolls whole, and a printable character writes itself.
func (s *Screen) passable() bool {
	if !s.p.Ground() || s.rows < 2 || s.cur.x != 0 || s.cur.y != s.rows-1 || s.wrapNext ||
		s.top != 0 || s.bot != s.rows-1 || s.insert || s.cur.gfx[s.cur.gl] {
		return false
	}
	rows := s.buf.rows
	last := rows[s.rows-1]
	return len(last.cells) == 0 && !last.wrapped && !rows[s.rows-2].wrapped
}

// maxPass bounds the lines passLines takes at a time, and so what it
// keeps of them (a write of a megabyte of empty lines is half a million).
const maxPass = 1024

// plainLines returns where the lines p starts with end (after their CR LF),
// as long as each is printable ASCII and tabs that fit in a row, at most
// maxPass of them. The first ones scroll off as the last ones are written.
func (s *Screen) plainLines(p []byte) []int {
	ends, i := s.ends[:0], 0
	for len(ends) < maxPass {
		x := 0
		for i < len(p) {
			if n := asciiRun(p[i:]); n > 0 {
				if x += n; x > s.cols {
					break // it would wrap
				}
				i += n
				continue
			}
			if p[i] != '\t' || x >= s.cols-1 {
				break
			}
			x = s.nextTab(x)
			i++
		}
		if i+1 >= len(p) || p[i] != '\r' || p[i+1] != '\n' {
			break
		}
		i += 2
		ends = append(ends, i)
	}
	s.ends = ends
	return ends
}

// passLines takes the plain lines p starts with if at least a screen's
// worth of them scroll off, and returns how many bytes they were (0 if
// none were taken) and how many bytes of p the lines it looked at took
// (looking again at any of them finds fewer).
func (s *Screen) passLines(p []byte) (took, seen int) {
	if !s.passable() {
		return 0, 0
	}
	ends := s.plainLines(p)
	if len(ends) == 0 {
		return 0, 0
	}
	seen = ends[len(ends)-1]
	// Of k lines, those written before the last rows-1 scroll off: as
	// many leave as the rows above the cursor before them.
	leave := len(ends) - (s.rows - 1)
	if leave <= 0 {
		return 0, seen
	}
	rows := s.buf.rows
	bottom := rows[s.rows-1]
	mark := bottom.mark // the first line is written into the last row
	for range s.rows - 1 {
		s.scrollUp(0, 1)
	}
	bottom.clear(s.blank())
	bottom.mark = false
	s.dirty(bottom)
	// s.last is the last character printed: of plain lines' bytes, tabs,
	// CR and LF print none.
	for i := ends[leave-1] - 1; i >= 0; i-- {
		if p[i] >= 0x20 {
			s.last = rune(p[i])
			break
		}
	}
	start := 0
	for _, end := range ends[:leave] {
		line := p[start : end-2]
		if s.OnScroll != nil {
			s.OnScroll(Line{Text: s.lineText(line), Marked: mark})
		}
		mark = false
		start = end
	}
	// The last rows-1 lines stay, in the rows above the cursor.
	for y, end := range ends[leave:] {
		s.cur.x, s.cur.y, s.wrapNext = 0, y, false
		s.writeLine(p[start : end-2])
		s.dirty(rows[y])
		start = end
	}
	s.cur.x, s.cur.y, s.wrapNext = 0, s.rows-1, false
	return seen, seen
}

// lineText is the text of a plain line written from the first column.
func (s *Screen) lineText(line []byte) string {
	if bytes.IndexByte(line, '\t') < 0 {
		return string(trimRight(line))
	}
	b, x := s.text[:0], 0
	for i := 0; i < len(line); {
		if line[i] == '\t' {
			x = s.nextTab(x)
			i++
			continue
		}
		n := asciiRun(line[i:])
		for len(b) < x {
			b = append(b, ' ')
		}
		b = append(b, line[i:i+n]...)
		x += n
		i += n
	}
	s.text = b
	return string(trimRight(b))
}

// writeLine writes a plain line from the cursor.
func (s *Screen) writeLine(line []byte) {
	for i := 0; i < len(line); {
		if line[i] == '\t' {
			s.tab(1)
			i++
			continue
		}
		i += s.printASCII(line[i:])
	}
}
