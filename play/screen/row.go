package screen

import "slices"

// color is a cell's colour: 0 the default, colorIndexed|N one of the 256
// indexed colours, colorRGB|0xRRGGBB a direct one.
type color uint32

const (
	colorIndexed color = 1 << 24
	colorRGB     color = 2 << 24
)

// Character attribute bits (SGR).
const (
	attrBold uint16 = 1 << iota
	attrFaint
	attrItalic
	attrUnderline
	attrBlink
	attrReverse
	attrInvisible
	attrStrike
)

// attr is how a cell is drawn, as SGR set it.
type attr struct {
	fg, bg color
	flags  uint16
}

type cell struct {
	ch rune
	a  attr
}

// row is a row of cells. Only the cells up to the last one written or
// erased with other attributes are stored: the rest of the row is blank,
// drawn with tail (an erase to the end of the row sets it), so that neither
// erasing nor resizing costs more than the row's content.
type row struct {
	cells   []cell
	tail    attr
	wrapped bool // the text goes on in the next row: the cursor wrapped from this one
	dirty   bool // changed since the last Changed
	mark    bool // what Changed's function last returned for it
}

// clear blanks the row with attributes a.
func (r *row) clear(a attr) {
	r.cells, r.tail, r.wrapped = r.cells[:0], a, false
}

// fill stores the row's cells up to n.
func (r *row) fill(n int) {
	m := len(r.cells)
	if m >= n {
		return
	}
	r.cells = slices.Grow(r.cells, n-m)[:n]
	blank := cell{' ', r.tail}
	for i := m; i < n; i++ {
		r.cells[i] = blank
	}
}

// set writes cell x.
func (r *row) set(x int, c cell) {
	if x < len(r.cells) {
		r.cells[x] = c
		return
	}
	r.fill(x)
	r.cells = append(r.cells, c)
}

// setASCII writes printable ASCII characters drawn with a to the cells
// from x on (through the DEC line drawing set if gfx), and returns the
// last character written.
func (r *row) setASCII(x int, run []byte, a attr, gfx bool) rune {
	if end := x + len(run); end > len(r.cells) {
		r.fill(x)
		r.cells = slices.Grow(r.cells, end-len(r.cells))[:end]
	}
	cells := r.cells[x : x+len(run)]
	if gfx {
		for i, b := range run {
			c := rune(b)
			if c >= 0x5f {
				c = gfxChars[c-0x5f]
			}
			cells[i] = cell{c, a}
		}
		return cells[len(cells)-1].ch
	}
	for i, b := range run {
		cells[i] = cell{rune(b), a}
	}
	return rune(run[len(run)-1])
}

// erase blanks cells x0..x1-1 with attributes a; x1 >= cols: to the end.
func (r *row) erase(x0, x1, cols int, a attr) {
	if x1 >= cols {
		r.fill(x0)
		r.cells, r.tail = r.cells[:x0], a
		r.wrapped = false
		return
	}
	if x0 >= len(r.cells) && a == r.tail {
		return
	}
	r.fill(x1)
	for x := x0; x < x1; x++ {
		r.cells[x] = cell{' ', a}
	}
	r.trim()
}

// insertBlanks inserts n blank cells at x, drawn with a; cells pushed past
// the last column are lost.
func (r *row) insertBlanks(x, n, cols int, a attr) {
	n = min(n, cols-x)
	r.fill(cols)
	copy(r.cells[x+n:], r.cells[x:cols-n])
	for i := x; i < x+n; i++ {
		r.cells[i] = cell{' ', a}
	}
	r.trim()
}

// deleteChars removes n cells at x; blanks drawn with a come in at the end.
func (r *row) deleteChars(x, n, cols int, a attr) {
	n = min(n, cols-x)
	r.fill(cols)
	copy(r.cells[x:], r.cells[x+n:])
	for i := cols - n; i < cols; i++ {
		r.cells[i] = cell{' ', a}
	}
	r.trim()
}

// trim drops the stored cells at the end that the tail draws the same.
func (r *row) trim() {
	n := len(r.cells)
	for n > 0 && r.cells[n-1] == (cell{' ', r.tail}) {
		n--
	}
	r.cells = r.cells[:n]
}

// hasText tells whether a cell in x0..x1-1 holds a character.
func (r *row) hasText(x0, x1 int) bool {
	for _, c := range r.cells[min(x0, len(r.cells)):min(x1, len(r.cells))] {
		if c.ch != ' ' {
			return true
		}
	}
	return false
}
