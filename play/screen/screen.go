// Package screen models the terminal screen that recorded output was shown
// on, as xterm shows it, and reports every line that leaves it: scrolled
// off the top of any scroll region (line feeds, SU, DL), pushed off its
// bottom (SD, IL, reverse index), erased with the screen (ED, a reset),
// dropped with the alternate screen, or cut off by a smaller window. The
// text export and search are built on these reports, the seeking index on
// Repaint.
//
// Nothing a recording holds makes the model large or slow: the size is
// bounded (MaxCols×MaxRows; FitSize), a window of unknown size (0) keeps
// the last one, and every escape sequence costs at most O(cols + rows), so
// a flood of random bytes or of escape sequences is handled in time linear
// in its size.
package screen

import (
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/vtparse"
)

// Size bounds. A recorded window larger than MaxCols×MaxRows (no real
// screen has one: a 7680-pixel-wide display in a 6-pixel font has 1280
// columns, and sessions that wide are rare) is modelled at that size; its
// longer lines still reach the text whole, since wrapped rows are joined.
const (
	MaxCols     = 512
	MaxRows     = 256
	DefaultCols = 80
	DefaultRows = 24
	// maxLine bounds a line of text joined from wrapped rows: longer ones
	// are reported in pieces.
	maxLine = 64 << 10
	// checkSpan is how much of a long line around what changed Changed
	// shows.
	checkSpan = 1024
)

// FitSize is the size a recorded window of cols×rows is modelled at. A
// dimension of 0 (or less) is unknown, as a pseudo-terminal nobody sized
// reports (`ssh -tt` run without a terminal): it keeps the previous one,
// prevCols×prevRows, or DefaultCols×DefaultRows if that is unknown too.
// Larger sizes are cut to MaxCols×MaxRows.
func FitSize(cols, rows, prevCols, prevRows int) (int, int) {
	if cols <= 0 {
		cols = prevCols
	}
	if rows <= 0 {
		rows = prevRows
	}
	if cols <= 0 {
		cols = DefaultCols
	}
	if rows <= 0 {
		rows = DefaultRows
	}
	return min(cols, MaxCols), min(rows, MaxRows)
}

// Line is a line of text that left the screen: rows joined where the
// output wrapped from one to the next, trailing spaces trimmed.
type Line struct {
	Text string
	// Marked is what the function given to Changed last returned for the
	// line (for any of its rows), false if it never saw it.
	Marked bool
}

// Screen is a terminal screen. It is not safe for concurrent use.
type Screen struct {
	// OnScroll, if set, receives each line that scrolls out of the screen
	// or out of a scroll region, top lines first.
	OnScroll func(Line)
	// OnClear, if set, receives the lines, top first and without the blank
	// ones at the bottom, that an erase of the screen (ED), a reset, the
	// end of the alternate screen or a smaller window wipes out.
	OnClear func([]Line)

	p          vtparse.Parser
	cols, rows int
	main, alt  buffer
	buf        *buffer // the buffer shown
	cur        cursor
	wrapNext   bool // the cursor waits past the last column
	top, bot   int  // scroll region, rows top..bot
	autowrap   bool
	insert     bool // IRM
	newline    bool // LNM: line feed also returns the carriage
	reverse    bool // DECSCNM
	hidden     bool // cursor hidden (DECTCEM reset)
	tabs       []bool
	title      string
	last       rune // the last character printed, for REP
	anyDirty   bool

	// pend holds the beginning of a line whose first rows scrolled off
	// while the rest is still on screen: it is reported with the rest.
	pend    joiner
	scratch joiner // for lines that do not start in the top row
	gone    []*row // rows a smaller window removed, for reuse
	tmp     []*row // rows leaving in a scroll
	batch   []Line // lines for OnClear
	text    []byte // Changed's text, passLines'
	ends    []int  // plainLines'
}

// cursor is what DECSC saves.
type cursor struct {
	x, y   int
	pen    attr
	origin bool    // DECOM: positions relative to the scroll region
	gfx    [2]bool // G0 and G1 hold the DEC line drawing set
	gl     uint8   // G0 or G1 is in use (SI/SO)
}

// buffer is the main or the alternate screen.
type buffer struct {
	rows  []*row
	saved cursor // DECSC, one for each buffer as in xterm
}

// New returns a blank screen of cols×rows (as FitSize makes it).
func New(cols, rows int) *Screen {
	cols, rows = FitSize(cols, rows, 0, 0)
	s := &Screen{cols: cols, rows: rows}
	s.main.rows = newRows(rows)
	s.alt.rows = newRows(rows)
	s.tabs = make([]bool, cols, MaxCols)
	s.reset()
	return s
}

func newRows(n int) []*row {
	rows := make([]*row, n, MaxRows)
	for i := range rows {
		rows[i] = &row{}
	}
	return rows
}

// reset brings the terminal to its initial state (RIS) without reporting.
func (s *Screen) reset() {
	s.buf = &s.main
	s.cur, s.wrapNext = cursor{}, false
	s.main.saved, s.alt.saved = cursor{}, cursor{}
	s.top, s.bot = 0, s.rows-1
	s.autowrap, s.insert, s.newline, s.reverse, s.hidden = true, false, false, false, false
	for x := range s.tabs {
		s.tabs[x] = x > 0 && x%8 == 0
	}
	for _, b := range []*buffer{&s.main, &s.alt} {
		for _, r := range b.rows {
			r.clear(attr{})
			r.mark, r.dirty = false, true
		}
	}
	s.anyDirty = true
}

// Size returns the screen's size.
func (s *Screen) Size() (cols, rows int) { return s.cols, s.rows }

// Ground tells whether the output so far ends between characters and
// escape sequences: output written after Repaint's then reads the same.
func (s *Screen) Ground() bool { return s.p.Ground() }

// watched tells whether anyone hears of lines leaving.
func (s *Screen) watched() bool { return s.OnScroll != nil || s.OnClear != nil }

// Write applies terminal output. Characters and sequences may be split
// across writes; bytes that are not UTF-8 are ignored, as a UTF-8 terminal
// shows them as U+FFFD, which carries no text.
func (s *Screen) Write(p []byte) {
	// Lines may pass through (passLines) at the start, after each line
	// feed and after lines passed, from where the lines looked at last end.
	try, from := true, 0
	for i := 0; i < len(p); i++ {
		if try && i >= from {
			took, seen := s.passLines(p[i:])
			if from = i + seen; took > 0 {
				i += took - 1
				continue
			}
			try = false
		}
		b := p[i]
		if b >= 0x20 && b < 0x7f && s.p.Ground() {
			// Most output is runs of printable ASCII: taken a run at
			// a time, without the parser.
			i += s.printASCII(p[i:]) - 1
			continue
		}
		switch s.p.Next(b) {
		case vtparse.Print:
			s.print(s.p.Rune)
		case vtparse.Execute:
			s.execute(s.p.Rune)
			try = s.p.Rune == '\n'
		case vtparse.Esc:
			s.esc()
		case vtparse.CSI:
			s.csi()
		case vtparse.String:
			s.controlString()
		}
	}
}

// Lines returns the rows of the screen shown, top first, trailing spaces
// trimmed (wrapped rows are not joined).
func (s *Screen) Lines() []string {
	lines := make([]string, s.rows)
	for y, r := range s.buf.rows {
		lines[y] = string(s.rowText(nil, r, false))
	}
	return lines
}

// Text returns the lines of the screen shown, wrapped rows joined (with
// the beginning of a line that scrolled off), without the blank lines at
// the bottom.
func (s *Screen) Text() []string {
	var out []string
	j := joiner{b: append([]byte(nil), s.pend.b...), mark: s.pend.mark}
	s.join(&j, s.buf.rows, true, func(l Line) { out = append(out, l.Text) })
	return trimBlank(out)
}

// Flush reports through OnClear what the screens still hold, as if they
// were erased: the main screen, when the alternate one is shown, then the
// screen shown. The text export ends with it.
func (s *Screen) Flush() {
	s.batch = s.batch[:0]
	if s.buf == &s.alt {
		s.collect(s.main.rows)
	}
	s.collect(s.buf.rows)
	s.flushBatch()
	for _, b := range []*buffer{&s.main, &s.alt} {
		for _, r := range b.rows {
			r.clear(attr{})
		}
	}
}

// Changed calls f with each line on the screen shown (wrapped rows joined)
// that changed since the last call, top first, and remembers what f
// returns as the line's mark: f gets it back, and Line.Marked has it when
// the line leaves. Of a line longer than the screen is wide, f gets the
// rows that changed with checkSpan characters around them (including the
// beginning of the line that scrolled off), so that a small change to a
// long line costs little.
func (s *Screen) Changed(f func(text string, marked bool) bool) {
	if !s.anyDirty {
		return
	}
	s.anyDirty = false
	rows := s.buf.rows
	ext := (checkSpan + s.cols - 1) / s.cols // rows around a change
	for y := 0; y < len(rows); {
		z := y // the line's last row
		for z < len(rows)-1 && rows[z].wrapped {
			z++
		}
		for a := y; a <= z; a++ {
			if !rows[a].dirty {
				continue
			}
			// The rows from lo to hi: changed ones with ext rows around.
			lo, hi := max(a-ext, y), min(a+ext, z)
			for b := a + 1; b <= hi; b++ {
				if rows[b].dirty {
					hi = min(b+ext, z)
				}
			}
			s.check(f, lo, hi, hi == z)
			a = hi
		}
		y = z + 1
	}
}

// check calls f with the text of rows lo..hi (the last one ending the
// line if end) and marks them with what it returns.
func (s *Screen) check(f func(string, bool) bool, lo, hi int, end bool) {
	rows := s.buf.rows
	b, marked := s.text[:0], false
	if lo == 0 && len(s.pend.b) > 0 {
		tail := s.pend.b[max(len(s.pend.b)-checkSpan, 0):]
		for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
			tail = tail[1:]
		}
		b, marked = append(b, tail...), s.pend.mark
	}
	for y := lo; y <= hi; y++ {
		b = s.rowText(b, rows[y], y < hi || !end)
		marked = marked || rows[y].mark
	}
	s.text = b
	m := f(string(trimRight(b)), marked)
	for _, r := range rows[lo : hi+1] {
		r.mark, r.dirty = m, false
	}
	if lo == 0 && len(s.pend.b) > 0 {
		s.pend.mark = m
	}
}

// rowText appends a row's text: trailing spaces trimmed, or (full) as wide
// as the screen.
func (s *Screen) rowText(b []byte, r *row, full bool) []byte {
	cells := r.cells
	if !full {
		n := len(cells)
		for n > 0 && cells[n-1].ch == ' ' {
			n--
		}
		cells = cells[:n]
	}
	for _, c := range cells {
		if c.ch < utf8.RuneSelf {
			b = append(b, byte(c.ch))
		} else {
			b = utf8.AppendRune(b, c.ch)
		}
	}
	if full {
		for range s.cols - len(r.cells) {
			b = append(b, ' ')
		}
	}
	return b
}

// joiner holds the beginning of a line whose rows wrapped, until its
// last row comes.
type joiner struct {
	b    []byte
	mark bool
}

// join calls f with the lines the rows hold, wrapped rows joined, the
// first joined to what j holds. Unless final, a last row that wraps stays
// in j, for the row after it to complete. A run of blank lines is passed
// as one: nothing reads them, and scrolling a whole screen of them must
// not cost a call each.
func (s *Screen) join(j *joiner, rows []*row, final bool, f func(Line)) {
	blank := false
	for i, r := range rows {
		if len(j.b) >= maxLine {
			j.emit(f)
		}
		if len(j.b) == 0 && !r.wrapped {
			if len(r.cells) > 0 {
				j.b = s.rowText(j.b, r, false)
			}
			if len(j.b) == 0 {
				if !blank {
					f(Line{Marked: r.mark})
				}
				blank = true
				continue
			}
		} else {
			j.b = s.rowText(j.b, r, r.wrapped)
		}
		blank = false
		j.mark = j.mark || r.mark
		if r.wrapped && (i < len(rows)-1 || !final) {
			continue
		}
		j.emit(f)
	}
}

func (j *joiner) emit(f func(Line)) {
	f(Line{Text: string(trimRight(j.b)), Marked: j.mark})
	j.b, j.mark = j.b[:0], false
}

// joinerFor is the joiner for lines starting at row first: the one that
// holds the beginning of a line that scrolled off when first is the top
// row, which goes on with it.
func (s *Screen) joinerFor(first *row) *joiner {
	if first == s.buf.rows[0] {
		return &s.pend
	}
	s.scratch.b, s.scratch.mark = s.scratch.b[:0], false
	return &s.scratch
}

// scrolledOff reports rows that scrolled out. With carry, when they left
// from the top of the screen, the last one's line may go on in the row
// now on top.
func (s *Screen) scrolledOff(rows []*row, carry bool) {
	if s.OnScroll == nil {
		return
	}
	j := s.joinerFor(rows[0])
	s.join(j, rows, !carry || j != &s.pend, s.OnScroll)
}

// flushPend reports the beginning of a line that scrolled off as a line
// of its own: the row it went on in is gone from view.
func (s *Screen) flushPend() {
	if len(s.pend.b) > 0 && s.OnScroll != nil {
		s.pend.emit(s.OnScroll)
	}
	s.pend.b, s.pend.mark = s.pend.b[:0], false
}

// collect adds the lines the rows hold to the batch for OnClear.
func (s *Screen) collect(rows []*row) {
	if !s.watched() || len(rows) == 0 {
		return
	}
	s.join(s.joinerFor(rows[0]), rows, true, func(l Line) { s.batch = append(s.batch, l) })
}

// flushBatch reports the batch without its blank lines at the bottom.
func (s *Screen) flushBatch() {
	n := len(s.batch)
	for n > 0 && s.batch[n-1].Text == "" {
		n--
	}
	if n > 0 && s.OnClear != nil {
		s.OnClear(s.batch[:n:n])
	}
	s.batch = s.batch[:0]
}

func trimRight(b []byte) []byte {
	n := len(b)
	for n > 0 && b[n-1] == ' ' {
		n--
	}
	return b[:n]
}

func trimBlank(lines []string) []string {
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	return lines[:n]
}

// Resize changes the screen's size (as FitSize makes it). When the cursor
// would fall below the new last row, the lines at the top leave as if
// scrolled off; rows below the new last row and the ends of rows wider
// than the new width are reported through OnClear.
func (s *Screen) Resize(cols, rows int) {
	cols, rows = FitSize(cols, rows, s.cols, s.rows)
	if cols == s.cols && rows == s.rows {
		return
	}
	if slide := s.cur.y - rows + 1; slide > 0 {
		b := s.buf
		s.scrolledOff(b.rows[:slide], false)
		s.recycle(b.rows[:slide])
		b.rows = append(b.rows[:0], b.rows[slide:]...)
		b.saved.y = max(b.saved.y-slide, 0)
		s.cur.y -= slide
	}
	s.batch = s.batch[:0]
	for _, b := range []*buffer{&s.main, &s.alt} {
		for _, r := range b.rows[:min(rows, len(b.rows))] {
			if r.hasText(cols, len(r.cells)) {
				s.collect([]*row{r})
			}
			if len(r.cells) > cols {
				r.cells = r.cells[:cols]
				r.dirty = true
			}
		}
		if len(b.rows) > rows {
			s.collect(b.rows[rows:])
			s.recycle(b.rows[rows:])
			b.rows = b.rows[:rows]
		}
		for len(b.rows) < rows {
			b.rows = append(b.rows, s.newRow(attr{}))
		}
		b.saved.x, b.saved.y = min(b.saved.x, cols-1), min(b.saved.y, rows-1)
	}
	s.flushBatch()
	for x := s.cols; x < cols; x++ {
		s.tabs = append(s.tabs, x%8 == 0)
	}
	s.tabs = s.tabs[:cols]
	s.cols, s.rows = cols, rows
	s.top, s.bot = 0, rows-1
	s.cur.x, s.cur.y = min(s.cur.x, cols-1), min(s.cur.y, rows-1)
	s.wrapNext = false
	s.anyDirty = true
}

// recycle keeps removed rows for reuse.
func (s *Screen) recycle(rows []*row) {
	s.gone = append(s.gone, rows...)
}

// newRow returns a blank row, reusing a removed one if there is one.
func (s *Screen) newRow(a attr) *row {
	var r *row
	if n := len(s.gone); n > 0 {
		r, s.gone = s.gone[n-1], s.gone[:n-1]
	} else {
		r = &row{}
	}
	r.clear(a)
	r.mark, r.dirty = false, true
	return r
}
