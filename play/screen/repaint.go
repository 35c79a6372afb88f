package screen

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Repaint returns the escape sequences that bring a terminal of the
// screen's size, freshly reset, to what the screen shows and to its state:
// both screens when the alternate one is shown, wrapped rows (they wrap
// again), the cursor and the cursors saved, attributes, character sets,
// scroll region, tab stops, the modes that change what output does
// (autowrap, origin, insert, new line, reverse video, cursor shown) and the
// title. Written to a new Screen, it gives the same state. It holds nothing
// that makes a terminal answer or that changes its keyboard or mouse.
func (s *Screen) Repaint() []byte {
	p := &painter{cols: s.cols, rows: s.rows}
	if s.title != "" && !hasControl(s.title) {
		p.str("\x1b]2;" + s.title + "\x07")
	}
	p.str("\x1b[0m\x1b(B\x1b)B\x0f\x1b[?7h\x1b[?6l\x1b[r\x1b[H\x1b[2J")
	if s.buf == &s.main && s.alt.saved != (cursor{}) {
		// The alternate screen's saved cursor, which a program there may
		// restore without saving one.
		p.str("\x1b[?1049h")
		p.savedCursor(s.alt.saved, "\x1b7")
		p.str("\x1b[?1049l")
	}
	if s.buf == &s.alt {
		p.paint(s.main.rows)
		// Entering the alternate screen saves the cursor in the main
		// screen's place, which leaving it restores.
		p.savedCursor(s.main.saved, "\x1b[?1049h")
		// It clears that screen with the pen saved: clear it again.
		p.str("\x1b[2J")
	}
	p.paint(s.buf.rows)
	p.savedCursor(s.buf.saved, "\x1b7")
	if s.top != 0 || s.bot != s.rows-1 {
		p.csi(s.top+1, s.bot+1)
		p.str("r")
	}
	// Tab stops always: the terminal may have others set.
	p.str("\x1b[3g")
	for x, on := range s.tabs {
		if on {
			p.move(x, 0)
			p.str("\x1bH")
		}
	}
	if s.cur.origin {
		p.str("\x1b[?6h")
	}
	y := s.cur.y
	if s.cur.origin {
		y -= s.top
	}
	if s.wrapNext {
		// The cursor waits past the last column: writing that column's
		// character again puts it there.
		p.move(s.cols-1, y)
		p.put(s.buf.rows[s.cur.y].at(s.cols - 1))
	} else {
		p.move(s.cur.x, y)
	}
	if s.insert {
		p.str("\x1b[4h")
	}
	if s.newline {
		p.str("\x1b[20h")
	}
	if s.reverse {
		p.str("\x1b[?5h")
	}
	if !s.autowrap {
		p.str("\x1b[?7l")
	}
	if s.hidden {
		p.str("\x1b[?25l")
	}
	p.charsets(s.cur)
	p.setPen(s.cur.pen)
	return p.b
}

// at is cell x (blank beyond what is stored).
func (r *row) at(x int) cell {
	if x < len(r.cells) {
		return r.cells[x]
	}
	return cell{' ', r.tail}
}

// painter builds a repaint, tracking the pen in use.
type painter struct {
	b          []byte
	pen        attr
	cols, rows int
}

func (p *painter) str(s string) { p.b = append(p.b, s...) }

func (p *painter) csi(args ...int) {
	p.b = append(p.b, "\x1b["...)
	for i, a := range args {
		if i > 0 {
			p.b = append(p.b, ';')
		}
		p.b = strconv.AppendInt(p.b, int64(a), 10)
	}
}

// move puts the cursor at column x, row y (0-based).
func (p *painter) move(x, y int) {
	p.csi(y+1, x+1)
	p.b = append(p.b, 'H')
}

func (p *painter) put(c cell) {
	p.setPen(c.a)
	p.b = utf8.AppendRune(p.b, c.ch)
}

// paint writes the rows of a cleared screen. A row that wraps is written
// to its last column and the next row goes on from there, so that it
// wraps again (except at the bottom, where that would scroll).
func (p *painter) paint(rows []*row) {
	// end is how many of a row's cells are written.
	end := func(y int) int {
		if rows[y].wrapped && y < p.rows-1 {
			return p.cols
		}
		return len(rows[y].cells)
	}
	from := -1 // cells of this row written already, -1 unless the row before wrapped into it
	for y, r := range rows {
		if from < 0 {
			if end(y) == 0 && r.tail == (attr{}) {
				continue
			}
			p.move(0, y)
			from = 0
		}
		n := end(y)
		for x := from; x < n; x++ {
			p.put(r.at(x))
		}
		from = -1
		if n == p.cols && r.wrapped && y < p.rows-1 {
			from = 0
			if end(y+1) == 0 {
				// Nothing to write in the next row: a blank wraps too.
				p.put(rows[y+1].at(0))
				from = 1
			}
			continue
		}
		if r.tail != (attr{}) && n < p.cols {
			p.setPen(r.tail)
			p.str("\x1b[K")
		}
	}
}

// savedCursor saves cursor c with the sequence save, while the scroll
// region is the whole screen, and leaves the modes and character sets as
// painting needs them.
func (p *painter) savedCursor(c cursor, save string) {
	if c.origin {
		p.str("\x1b[?6h")
	}
	p.move(c.x, c.y)
	p.setPen(c.pen)
	p.charsets(c)
	p.str(save)
	if c.origin {
		p.str("\x1b[?6l")
	}
	p.charsets(cursor{})
	p.setPen(attr{})
}

// charsets designates G0 and G1 and picks one, as in c.
func (p *painter) charsets(c cursor) {
	for i, gfx := range c.gfx {
		p.b = append(p.b, 0x1b, "()"[i], "B0"[b2i(gfx)])
	}
	p.b = append(p.b, 0x0f-c.gl) // SI (G0) or SO (G1)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sgrCodes are the codes that set each attribute bit.
var sgrCodes = [...]struct {
	bit  uint16
	code byte
}{{attrBold, '1'}, {attrFaint, '2'}, {attrItalic, '3'}, {attrUnderline, '4'}, {attrBlink, '5'},
	{attrReverse, '7'}, {attrInvisible, '8'}, {attrStrike, '9'}}

func (p *painter) setPen(a attr) {
	if a == p.pen {
		return
	}
	p.str("\x1b[0")
	for _, c := range sgrCodes {
		if a.flags&c.bit != 0 {
			p.b = append(p.b, ';', c.code)
		}
	}
	p.b = appendColor(p.b, a.fg, 30, 90, 38)
	p.b = appendColor(p.b, a.bg, 40, 100, 48)
	p.b = append(p.b, 'm')
	p.pen = a
}

// appendColor appends the SGR parameters of colour c (nothing for the
// default, which SGR 0 set).
func appendColor(b []byte, c color, base, bright, ext int) []byte {
	switch n := int(c & 0xffffff); {
	case c == 0:
		return b
	case c&colorRGB != 0:
		b = strconv.AppendInt(append(b, ';'), int64(ext), 10)
		b = append(b, ";2"...)
		for _, v := range []int{n >> 16, n >> 8 & 0xff, n & 0xff} {
			b = strconv.AppendInt(append(b, ';'), int64(v), 10)
		}
		return b
	case n < 8:
		return strconv.AppendInt(append(b, ';'), int64(base+n), 10)
	case n < 16:
		return strconv.AppendInt(append(b, ';'), int64(bright+n-8), 10)
	default:
		b = strconv.AppendInt(append(b, ';'), int64(ext), 10)
		return strconv.AppendInt(append(b, ";5;"...), int64(n), 10)
	}
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
