package screen

import (
	"encoding/binary"
	"math/bits"
	"strings"
)

// What the emulator does with each character, control and sequence, as
// xterm does (its ctlseqs), leaving out what does not change the screen:
// replies, keyboard and mouse modes, the screen alignment test (which
// would fill every cell from three bytes) and character widths (every
// character takes one cell).

// gfxChars is the DEC line drawing set for 0x5f-0x7e.
var gfxChars = []rune(" ◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·")

func (s *Screen) row() *row { return s.buf.rows[s.cur.y] }

func (s *Screen) dirty(r *row) {
	r.dirty = true
	s.anyDirty = true
}

// blank is what erasing draws with: the current background (as xterm's
// back-colour erase).
func (s *Screen) blank() attr { return attr{bg: s.cur.pen.bg} }

func (s *Screen) print(c rune) {
	if s.cur.gfx[s.cur.gl] && c >= 0x5f && c <= 0x7e {
		c = gfxChars[c-0x5f]
	}
	if s.wrapNext {
		s.wrap()
	}
	r := s.row()
	if s.insert {
		r.insertBlanks(s.cur.x, 1, s.cols, s.blank())
	}
	r.set(s.cur.x, cell{c, s.cur.pen})
	s.dirty(r)
	s.last = c
	if s.cur.x < s.cols-1 {
		s.cur.x++
	} else if s.autowrap {
		s.wrapNext = true
	}
}

// wrap moves the cursor waiting past the last column to the next row.
func (s *Screen) wrap() {
	s.wrapNext = false
	s.row().wrapped = true
	s.dirty(s.row())
	s.cur.x = 0
	s.index()
}

// printASCII prints the printable ASCII characters p starts with, as
// print does, a row's worth at a time, and returns how many there are.
func (s *Screen) printASCII(p []byte) int {
	n := asciiRun(p)
	if s.insert || !s.autowrap {
		// Rare: one at a time.
		for _, b := range p[:n] {
			s.print(rune(b))
		}
		return n
	}
	gfx := s.cur.gfx[s.cur.gl]
	for run := p[:n]; len(run) > 0; {
		if s.wrapNext {
			s.wrap()
		}
		r := s.row()
		k := min(len(run), s.cols-s.cur.x)
		s.last = r.setASCII(s.cur.x, run[:k], s.cur.pen, gfx)
		s.dirty(r)
		run = run[k:]
		if s.cur.x += k; s.cur.x == s.cols {
			s.cur.x, s.wrapNext = s.cols-1, true
		}
	}
	return n
}

// asciiRun returns how many bytes p starts with are printable ASCII
// (0x20-0x7e), looking at eight at a time.
func asciiRun(p []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := 0
	for ; n+8 <= len(p); n += 8 {
		x := binary.LittleEndian.Uint64(p[n:])
		// A byte's high bit is set if it is 0x80 or more, if adding 1
		// makes it so (0x7f), or if subtracting 0x20 wraps (below
		// 0x20). Carries and borrows only reach bytes after one that
		// is not printable, so the first bit set marks the first such
		// byte.
		if m := (x | (x + ones) | (x - 0x20*ones)) & highs; m != 0 {
			return n + bits.TrailingZeros64(m)/8
		}
	}
	for n < len(p) && p[n] >= 0x20 && p[n] < 0x7f {
		n++
	}
	return n
}

func (s *Screen) execute(c rune) {
	switch c {
	case '\b':
		s.moveTo(s.cur.x-1, s.cur.y)
	case '\t':
		s.tab(1)
	case '\n', '\v', '\f':
		s.wrapNext = false
		s.index()
		if s.newline {
			s.cur.x = 0
		}
	case '\r':
		s.moveTo(0, s.cur.y)
	case 0x0e: // SO
		s.cur.gl = 1
	case 0x0f: // SI
		s.cur.gl = 0
	}
}

// moveTo puts the cursor at x, y within the screen.
func (s *Screen) moveTo(x, y int) {
	s.cur.x, s.cur.y = min(max(x, 0), s.cols-1), min(max(y, 0), s.rows-1)
	s.wrapNext = false
}

// moveAbs puts the cursor at x, y counted from the scroll region's top in
// origin mode.
func (s *Screen) moveAbs(x, y int) {
	if s.cur.origin {
		s.moveTo(x, min(max(y+s.top, s.top), s.bot))
		return
	}
	s.moveTo(x, y)
}

// vertical moves the cursor up (n < 0) or down, stopping at the scroll
// region's margins when it starts within them.
func (s *Screen) vertical(n int) {
	y := s.cur.y + n
	if n < 0 && s.cur.y >= s.top {
		y = max(y, s.top)
	}
	if n > 0 && s.cur.y <= s.bot {
		y = min(y, s.bot)
	}
	s.moveTo(s.cur.x, y)
}

// tab moves to the n-th next tab stop (n < 0: previous ones).
func (s *Screen) tab(n int) {
	x := s.cur.x
	for ; n > 0 && x < s.cols-1; n-- {
		x = s.nextTab(x)
	}
	for ; n < 0 && x > 0; n++ {
		for x--; x > 0 && !s.tabs[x]; x-- {
		}
	}
	s.moveTo(x, s.cur.y)
}

// nextTab is the column a tab moves the cursor at x (< cols-1) to.
func (s *Screen) nextTab(x int) int {
	for x++; x < s.cols-1 && !s.tabs[x]; x++ {
	}
	return x
}

// index moves the cursor down, scrolling at the bottom of the region.
func (s *Screen) index() {
	switch {
	case s.cur.y == s.bot:
		s.scrollUp(s.top, 1)
	case s.cur.y < s.rows-1:
		s.cur.y++
	}
}

func (s *Screen) reverseIndex() {
	switch {
	case s.cur.y == s.top:
		s.scrollDown(s.top, 1)
	case s.cur.y > 0:
		s.cur.y--
	}
}

// scrollUp moves rows from..bot up by n: the top n leave (scrolled off).
func (s *Screen) scrollUp(from, n int) {
	n = min(n, s.bot-from+1)
	if n <= 0 {
		return
	}
	rows := s.buf.rows
	s.scrolledOff(rows[from:from+n], true)
	gone := append(s.tmp[:0], rows[from:from+n]...)
	copy(rows[from:], rows[from+n:s.bot+1])
	for i, r := range gone {
		r.clear(s.blank())
		r.mark = false
		s.dirty(r)
		rows[s.bot-n+1+i] = r
	}
	s.tmp = gone[:0]
	s.dirtyRows(from, s.bot-n)
}

// scrollDown moves rows from..bot down by n: the bottom n leave.
func (s *Screen) scrollDown(from, n int) {
	n = min(n, s.bot-from+1)
	if n <= 0 {
		return
	}
	rows := s.buf.rows
	s.scrolledOff(rows[s.bot-n+1:s.bot+1], false)
	gone := append(s.tmp[:0], rows[s.bot-n+1:s.bot+1]...)
	copy(rows[from+n:s.bot+1], rows[from:s.bot-n+1])
	for i, r := range gone {
		r.clear(s.blank())
		r.mark = false
		s.dirty(r)
		rows[from+i] = r
	}
	s.tmp = gone[:0]
	s.dirtyRows(from+n, s.bot)
}

// dirtyRows marks moved rows changed when the lines they join with are
// others now: a row wrapping into one that left, or one that a wrapped
// row now runs into.
func (s *Screen) dirtyRows(y0, y1 int) {
	if y0 > y1 {
		return
	}
	for _, y := range []int{y0 - 1, y0, y1, y1 + 1} {
		if y >= 0 && y < s.rows {
			s.dirty(s.buf.rows[y])
		}
	}
}

// eraseRows erases whole rows y0..y1, reporting their lines.
func (s *Screen) eraseRows(y0, y1 int) {
	if y0 > y1 {
		return
	}
	rows := s.buf.rows[y0 : y1+1]
	s.collect(rows)
	s.flushBatch()
	for _, r := range rows {
		r.clear(s.blank())
		s.dirty(r)
	}
}

// eraseDisplay is ED: rows wholly erased are reported, a row erased in
// part is not (that is editing a line, as EL).
func (s *Screen) eraseDisplay(mode int) {
	x, y := s.cur.x, s.cur.y
	switch mode {
	case 0: // below
		r := s.row()
		if !r.hasText(0, x) {
			s.eraseRows(y, s.rows-1)
			break
		}
		s.eraseRows(y+1, s.rows-1)
		r.erase(x, s.cols, s.cols, s.blank())
		s.dirty(r)
	case 1: // above
		r := s.row()
		if !r.hasText(x+1, s.cols) {
			s.eraseRows(0, y)
			break
		}
		s.eraseRows(0, y-1)
		r.erase(0, x+1, s.cols, s.blank())
		s.dirty(r)
	case 2:
		s.eraseRows(0, s.rows-1)
	}
}

func (s *Screen) eraseLine(mode int) {
	r := s.row()
	switch mode {
	case 0:
		r.erase(s.cur.x, s.cols, s.cols, s.blank())
	case 1:
		r.erase(0, s.cur.x+1, s.cols, s.blank())
	case 2:
		r.erase(0, s.cols, s.cols, s.blank())
	}
	s.dirty(r)
}

// setAlt shows the alternate screen (on) or the main one. Leaving the
// alternate screen reports and clears what it showed: it is never seen
// again (xterm keeps it for mode 47 only, which is rare).
func (s *Screen) setAlt(on, saveCursor bool) {
	if on == (s.buf == &s.alt) {
		if on && saveCursor {
			// 1049 again: xterm saves the cursor and clears the screen.
			s.saveCursor()
			s.eraseRows(0, s.rows-1)
		}
		return
	}
	if on {
		if saveCursor {
			s.saveCursor()
		}
		s.flushPend()
		s.buf = &s.alt
		s.eraseRows(0, s.rows-1)
	} else {
		s.eraseRows(0, s.rows-1)
		s.buf = &s.main
		if saveCursor {
			s.restoreCursor()
		}
	}
	for _, r := range s.buf.rows {
		s.dirty(r)
	}
}

func (s *Screen) saveCursor() { s.buf.saved = s.cur }

// restoreCursor is DECRC: in origin mode, the cursor lands in the scroll
// region, as in xterm.
func (s *Screen) restoreCursor() {
	s.cur = s.buf.saved
	if s.cur.origin {
		s.moveAbs(s.cur.x, s.cur.y-s.top)
		return
	}
	s.moveTo(s.cur.x, s.cur.y)
}

// softReset is DECSTR.
func (s *Screen) softReset() {
	s.hidden, s.insert, s.autowrap = false, false, true
	s.cur.origin, s.cur.pen, s.cur.gfx, s.cur.gl = false, attr{}, [2]bool{}, 0
	s.top, s.bot = 0, s.rows-1
	s.buf.saved = cursor{}
}

func (s *Screen) esc() {
	p := &s.p
	inter := p.Inter()
	if len(inter) == 1 {
		switch inter[0] {
		case '(', ')':
			s.cur.gfx[inter[0]-'('] = p.Final == '0'
		}
		return
	}
	if len(inter) > 0 {
		return
	}
	switch p.Final {
	case 'D': // IND
		s.wrapNext = false
		s.index()
	case 'E': // NEL
		s.wrapNext = false
		s.index()
		s.cur.x = 0
	case 'H': // HTS
		s.tabs[s.cur.x] = true
	case 'M': // RI
		s.wrapNext = false
		s.reverseIndex()
	case 'c': // RIS
		s.batch = s.batch[:0]
		if s.buf == &s.alt {
			s.collect(s.main.rows)
		}
		s.collect(s.buf.rows)
		s.flushBatch()
		s.reset()
	case '7':
		s.saveCursor()
	case '8':
		s.restoreCursor()
	}
}

func (s *Screen) csi() {
	p := &s.p
	if len(p.Inter()) > 0 {
		if string(p.Inter()) == "!" && p.Final == 'p' && p.Priv == 0 {
			s.softReset()
		}
		return
	}
	switch p.Priv {
	case 0:
	case '?':
		switch p.Final {
		case 'h', 'l':
			s.privateModes(p.Final == 'h')
		case 'J': // DECSED: as ED (no protected cells here)
			s.eraseDisplay(p.Param(0, 0))
		case 'K': // DECSEL
			s.eraseLine(p.Param(0, 0))
		}
		return
	default:
		return
	}
	n := p.Param(0, 1)
	switch p.Final {
	case '@': // ICH
		r := s.row()
		r.insertBlanks(s.cur.x, n, s.cols, s.blank())
		s.dirty(r)
		s.wrapNext = false
	case 'A': // CUU
		s.vertical(-n)
	case 'B', 'e': // CUD, VPR
		s.vertical(n)
	case 'C', 'a': // CUF, HPR
		s.moveTo(s.cur.x+n, s.cur.y)
	case 'D': // CUB
		s.moveTo(s.cur.x-n, s.cur.y)
	case 'E': // CNL
		s.vertical(n)
		s.cur.x = 0
	case 'F': // CPL
		s.vertical(-n)
		s.cur.x = 0
	case 'G', '`': // CHA, HPA
		s.moveTo(n-1, s.cur.y)
	case 'H', 'f': // CUP, HVP
		s.moveAbs(p.Param(1, 1)-1, n-1)
	case 'I': // CHT
		s.tab(min(n, s.cols))
	case 'Z': // CBT
		s.tab(-min(n, s.cols))
	case 'J':
		s.eraseDisplay(p.Param(0, 0))
	case 'K':
		s.eraseLine(p.Param(0, 0))
	case 'L': // IL
		if s.cur.y >= s.top && s.cur.y <= s.bot {
			s.scrollDown(s.cur.y, n)
			s.cur.x, s.wrapNext = 0, false
		}
	case 'M': // DL
		if s.cur.y >= s.top && s.cur.y <= s.bot {
			s.scrollUp(s.cur.y, n)
			s.cur.x, s.wrapNext = 0, false
		}
	case 'P': // DCH
		r := s.row()
		r.deleteChars(s.cur.x, n, s.cols, s.blank())
		s.dirty(r)
		s.wrapNext = false
	case 'S': // SU
		s.scrollUp(s.top, n)
	case 'T': // SD (with more parameters: a mouse tracking request)
		if len(p.Params()) <= 1 {
			s.scrollDown(s.top, n)
		}
	case 'X': // ECH
		r := s.row()
		r.erase(s.cur.x, min(s.cur.x+n, s.cols), s.cols, s.blank())
		s.dirty(r)
		s.wrapNext = false
	case 'b': // REP, within the row: a longer one would only repeat
		if s.last != 0 {
			for range min(n, s.cols-s.cur.x) {
				s.print(s.last)
			}
		}
	case 'd': // VPA
		s.moveAbs(s.cur.x, n-1)
	case 'g': // TBC
		switch p.Param(0, 0) {
		case 0:
			s.tabs[s.cur.x] = false
		case 3:
			clear(s.tabs)
		}
	case 'h', 'l':
		for _, m := range p.Params() {
			switch m {
			case 4:
				s.insert = p.Final == 'h'
			case 20:
				s.newline = p.Final == 'h'
			}
		}
	case 'm':
		s.sgr()
	case 'r': // DECSTBM
		top, bot := p.Param(0, 1)-1, p.Param(1, s.rows)-1
		bot = min(bot, s.rows-1)
		if top < bot {
			s.top, s.bot = top, bot
			s.moveAbs(0, 0)
		}
	case 's': // SCOSC
		if len(p.Params()) == 0 {
			s.saveCursor()
		}
	case 'u': // SCORC
		if len(p.Params()) == 0 {
			s.restoreCursor()
		}
	}
}

func (s *Screen) privateModes(set bool) {
	for _, m := range s.p.Params() {
		switch m {
		case 5:
			s.reverse = set
		case 6:
			s.cur.origin = set
			s.moveAbs(0, 0)
		case 7:
			s.autowrap = set
			if !set {
				s.wrapNext = false
			}
		case 25:
			s.hidden = !set
		case 47, 1047:
			s.setAlt(set, false)
		case 1048:
			if set {
				s.saveCursor()
			} else {
				s.restoreCursor()
			}
		case 1049:
			s.setAlt(set, true)
		}
	}
}

func (s *Screen) sgr() {
	ps := s.p.Params()
	if len(ps) == 0 {
		ps = []int{0}
	}
	a := &s.cur.pen
	for i := 0; i < len(ps); i++ {
		switch v := ps[i]; {
		case v == 0:
			*a = attr{}
		case v >= 1 && v <= 9:
			a.flags |= sgrFlag[v]
		case v == 21:
			a.flags |= attrUnderline
		case v == 22:
			a.flags &^= attrBold | attrFaint
		case v >= 23 && v <= 29 && v != 26:
			a.flags &^= sgrFlag[v-20]
		case v >= 30 && v <= 37:
			a.fg = colorIndexed | color(v-30)
		case v == 39:
			a.fg = 0
		case v >= 40 && v <= 47:
			a.bg = colorIndexed | color(v-40)
		case v == 49:
			a.bg = 0
		case v >= 90 && v <= 97:
			a.fg = colorIndexed | color(v-90+8)
		case v >= 100 && v <= 107:
			a.bg = colorIndexed | color(v-100+8)
		case v == 38 || v == 48:
			c, used := extColor(ps[i+1:])
			i += used
			if c != 0 {
				if v == 38 {
					a.fg = c
				} else {
					a.bg = c
				}
			}
		}
	}
}

// sgrFlag is the attribute that SGR 1-9 sets (and 21-29 resets).
var sgrFlag = [10]uint16{1: attrBold, 2: attrFaint, 3: attrItalic, 4: attrUnderline, 5: attrBlink, 6: attrBlink,
	7: attrReverse, 8: attrInvisible, 9: attrStrike}

// extColor reads the colour after SGR 38 or 48: 5;N or 2;R;G;B. It returns
// 0 for a malformed one, and how many parameters it took.
func extColor(ps []int) (color, int) {
	switch {
	case len(ps) >= 2 && ps[0] == 5:
		if ps[1] > 255 {
			return 0, 2
		}
		return colorIndexed | color(ps[1]), 2
	case len(ps) >= 4 && ps[0] == 2:
		if ps[1] > 255 || ps[2] > 255 || ps[3] > 255 {
			return 0, 4
		}
		return colorRGB | color(ps[1]<<16|ps[2]<<8|ps[3]), 4
	}
	return 0, len(ps)
}

// controlString takes the window title from OSC 0 and 2.
func (s *Screen) controlString() {
	if s.p.Kind != ']' {
		return
	}
	str := string(s.p.Str())
	if t, ok := strings.CutPrefix(str, "0;"); ok {
		s.title = t
	} else if t, ok := strings.CutPrefix(str, "2;"); ok {
		s.title = t
	}
}
