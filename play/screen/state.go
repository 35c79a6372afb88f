package screen

import (
	"reflect"
	"strconv"
	"unicode"

	"github.com/hinshun/vt10x"
)

// vt10x keeps most of its state (the other screen, the saved cursor, the
// scroll region, tab stops, the parser's state) in unexported fields and
// has no way to save or restore it. Seeking needs all of it, so it is read
// here through reflection, which may read unexported fields but not change
// them. The field names are those of the vt10x version in go.mod;
// TestRepaintRestoresState fails if an upgrade renames them.

// Glyph attribute bits of vt10x (state.go), which it does not export.
const (
	attrReverse = 1 << iota
	attrUnderline
	attrBold
	attrGfx
	attrItalic
	attrBlink
	attrWrap
)

// Cursor state bits of vt10x.
const (
	cursorWrapNext = 2
	cursorOrigin   = 4
)

// vtState is a copy of an emulator's state.
type vtState struct {
	cols, rows  int
	lines       [][]vt10x.Glyph // the screen shown
	other       [][]vt10x.Glyph // the other screen: the main one while the alternate is shown
	cur, saved  vt10x.Cursor
	top, bottom int // scroll region
	mode        vt10x.ModeFlag
	tabs        []bool
	title       string
}

func stateValue(vt vt10x.Terminal) reflect.Value {
	return reflect.ValueOf(vt).Elem().FieldByName("State").Elem()
}

// groundParsers are the code pointers of vt10x's parser state when it is
// between sequences: the method value is made once by the terminal and
// then again by the state, and the two differ.
var groundParsers = func() [2]uintptr {
	vt := vt10x.New()
	first := stateValue(vt).FieldByName("state").Pointer()
	_, _ = vt.Write([]byte("\x1b[m"))
	return [2]uintptr{first, stateValue(vt).FieldByName("state").Pointer()}
}()

// inGround tells whether vt's parser is between escape sequences.
func inGround(vt vt10x.Terminal) bool {
	p := stateValue(vt).FieldByName("state").Pointer()
	return p == groundParsers[0] || p == groundParsers[1]
}

func glyphOf(v reflect.Value) vt10x.Glyph {
	return vt10x.Glyph{Char: rune(v.FieldByName("Char").Int()), Mode: int16(v.FieldByName("Mode").Int()),
		FG: vt10x.Color(v.FieldByName("FG").Uint()), BG: vt10x.Color(v.FieldByName("BG").Uint())}
}

func cursorOf(v reflect.Value) vt10x.Cursor {
	return vt10x.Cursor{Attr: glyphOf(v.FieldByName("Attr")), X: int(v.FieldByName("X").Int()),
		Y: int(v.FieldByName("Y").Int()), State: uint8(v.FieldByName("State").Uint())}
}

func linesOf(v reflect.Value) [][]vt10x.Glyph {
	out := make([][]vt10x.Glyph, v.Len())
	for y := range out {
		row := v.Index(y)
		out[y] = make([]vt10x.Glyph, row.Len())
		for x := range out[y] {
			out[y][x] = glyphOf(row.Index(x))
		}
	}
	return out
}

func capture(vt vt10x.Terminal) *vtState {
	v := stateValue(vt)
	s := &vtState{lines: linesOf(v.FieldByName("lines")), other: linesOf(v.FieldByName("altLines")),
		cur: cursorOf(v.FieldByName("cur")), saved: cursorOf(v.FieldByName("curSaved")),
		top: int(v.FieldByName("top").Int()), bottom: int(v.FieldByName("bottom").Int()),
		mode: vt.Mode(), title: vt.Title()}
	s.cols, s.rows = vt.Size()
	tabs := v.FieldByName("tabs")
	s.tabs = make([]bool, tabs.Len())
	for i := range s.tabs {
		s.tabs[i] = tabs.Index(i).Bool()
	}
	return s
}

// gfxSource maps the characters of the DEC line drawing set back to the
// ASCII characters that show them, taken from vt10x itself.
var gfxSource = func() map[rune]byte {
	vt := vt10x.New(vt10x.WithSize(64, 1))
	_, _ = vt.Write([]byte("\x1b(0"))
	m := map[rune]byte{}
	for c := byte(0x41); c <= 0x7e; c++ {
		_, _ = vt.Write([]byte{'\r', c})
		if r := vt.Cell(0, 0).Char; r != rune(c) {
			m[r] = c
		}
	}
	return m
}()

// pen is what a character is written with.
type pen struct {
	mode   int16 // attr bits other than wrap and gfx
	fg, bg vt10x.Color
	gfx    bool
}

var defaultPen = pen{fg: vt10x.DefaultFG, bg: vt10x.DefaultBG}

// cellPen is the pen that writes a cell as vt10x stored it: vt10x swaps the
// colours of reverse video and brightens bold colours 0-7 when it stores a
// character, so that is undone.
func cellPen(g vt10x.Glyph) pen {
	p := pen{mode: g.Mode &^ (attrWrap | attrGfx), fg: g.FG, bg: g.BG, gfx: g.Mode&attrGfx != 0}
	if p.mode&attrReverse != 0 {
		p.fg, p.bg = g.BG, g.FG
	} else if p.mode&attrBold != 0 && p.fg >= 8 && p.fg < 16 {
		p.fg -= 8
	}
	return p
}

// attrPen is the pen of a cursor's attributes (colours as set, not swapped).
func attrPen(g vt10x.Glyph) pen {
	return pen{mode: g.Mode &^ (attrWrap | attrGfx), fg: g.FG, bg: g.BG, gfx: g.Mode&attrGfx != 0}
}

// painter builds a repaint sequence, tracking the pen in use.
type painter struct {
	b   []byte
	pen pen
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

// move puts the cursor at column x, row y (0-based, absolute).
func (p *painter) move(x, y int) {
	p.csi(y+1, x+1)
	p.b = append(p.b, 'H')
}

func appendColor(b []byte, c vt10x.Color, base, bright, def int) []byte {
	switch {
	case c == vt10x.DefaultFG || c == vt10x.DefaultBG:
		return strconv.AppendInt(append(b, ';'), int64(def), 10)
	case c < 8:
		return strconv.AppendInt(append(b, ';'), int64(base+int(c)), 10)
	case c < 16:
		return strconv.AppendInt(append(b, ';'), int64(bright+int(c)-8), 10)
	case c < 256:
		return strconv.AppendInt(fmt38(b, base+8, 5), int64(c), 10)
	}
	b = fmt38(b, base+8, 2)
	b = strconv.AppendInt(b, int64(c>>16&0xff), 10)
	b = strconv.AppendInt(append(b, ';'), int64(c>>8&0xff), 10)
	return strconv.AppendInt(append(b, ';'), int64(c&0xff), 10)
}

// fmt38 appends ";38;5;" (or 48, or ;2; for RGB).
func fmt38(b []byte, code, kind int) []byte {
	b = strconv.AppendInt(append(b, ';'), int64(code), 10)
	b = strconv.AppendInt(append(b, ';'), int64(kind), 10)
	return append(b, ';')
}

var sgrBits = [...]struct {
	bit  int16
	code byte
}{{attrBold, '1'}, {attrItalic, '3'}, {attrUnderline, '4'}, {attrBlink, '5'}, {attrReverse, '7'}}

func (p *painter) setPen(n pen) {
	if n.gfx != p.pen.gfx {
		if n.gfx {
			p.str("\x1b(0")
		} else {
			p.str("\x1b(B")
		}
	}
	if n.mode != p.pen.mode || n.fg != p.pen.fg || n.bg != p.pen.bg {
		p.str("\x1b[0")
		for _, a := range sgrBits {
			if n.mode&a.bit != 0 {
				p.b = append(p.b, ';', a.code)
			}
		}
		p.b = appendColor(p.b, n.fg, 30, 90, 39)
		p.b = appendColor(p.b, n.bg, 40, 100, 49)
		p.b = append(p.b, 'm')
	}
	p.pen = n
}

// put writes one cell.
func (p *painter) put(g vt10x.Glyph) {
	n := cellPen(g)
	p.setPen(n)
	c := g.Char
	if c == 0 {
		c = ' '
	}
	if src, ok := gfxSource[c]; ok && n.gfx {
		p.b = append(p.b, src)
		return
	}
	p.b = append(p.b, string(c)...)
}

// erased tells whether a cell can only have been left by an erase, which
// stores the attributes as they are: reverse video with the default colours
// not swapped, or bold with a colour that writing would have brightened.
func erased(g vt10x.Glyph) bool {
	if g.Char != ' ' {
		return false
	}
	if g.Mode&attrReverse != 0 {
		return g.FG == vt10x.DefaultFG || g.BG == vt10x.DefaultBG
	}
	return g.Mode&attrBold != 0 && g.FG < 8
}

func blankCell(g vt10x.Glyph) bool {
	return (g.Char == ' ' || g.Char == 0) && g.Mode&^attrWrap == 0 && g.FG == vt10x.DefaultFG && g.BG == vt10x.DefaultBG
}

// paint writes every row of a cleared screen; blank cells at the end of a
// row are left as they are.
func (p *painter) paint(lines [][]vt10x.Glyph) {
	for y, row := range lines {
		end := len(row)
		for end > 0 && blankCell(row[end-1]) {
			end--
		}
		if end == 0 {
			continue
		}
		p.move(0, y)
		for x := 0; x < end; {
			g := row[x]
			if !erased(g) {
				p.put(g)
				x++
				continue
			}
			// Erase a run of such cells (ECH) and step over it.
			n := 1
			for x+n < end && row[x+n].Mode&^attrWrap == g.Mode&^attrWrap && row[x+n].FG == g.FG && row[x+n].BG == g.BG && erased(row[x+n]) {
				n++
			}
			p.setPen(attrPen(g))
			p.csi(n)
			p.str("X")
			p.csi(n)
			p.str("C")
			x += n
		}
	}
}

// cursorTo moves the cursor to c's place, in origin mode relative to the
// scroll region's top.
func (p *painter) cursorTo(c vt10x.Cursor, top int) {
	if c.State&cursorOrigin != 0 {
		p.move(c.X, c.Y-top)
		return
	}
	p.move(c.X, c.Y)
}

// savedCursor saves cursor c (place, attributes, origin mode) with the
// sequence save, while the scroll region is the whole screen.
func (p *painter) savedCursor(c vt10x.Cursor, save string) {
	if c.State&cursorOrigin != 0 {
		p.str("\x1b[?6h")
	}
	p.move(c.X, c.Y)
	p.setPen(attrPen(c.Attr))
	p.str(save)
	if c.State&cursorOrigin != 0 {
		p.str("\x1b[?6l")
	}
}

// modes lists the private (DEC) and ANSI modes vt10x tracks that the
// repaint sets, with their numbers.
var modes = [...]struct {
	flag vt10x.ModeFlag
	priv bool
	n    int
}{
	{vt10x.ModeAppCursor, true, 1},
	{vt10x.ModeReverse, true, 5},
	{vt10x.ModeMouseX10, true, 9},
	{vt10x.ModeMouseButton, true, 1000},
	{vt10x.ModeMouseMotion, true, 1002},
	{vt10x.ModeMouseMany, true, 1003},
	{vt10x.ModeFocus, true, 1004},
	{vt10x.ModeMouseSgr, true, 1006},
	{vt10x.Mode8bit, true, 1034},
	{vt10x.ModeInsert, false, 4},
	{vt10x.ModeEcho, false, 12},
	{vt10x.ModeCRLF, false, 20},
	// Keyboard lock (KAM) is left out: it would lock the viewer's keyboard.
}

// repaint returns what brings a terminal of the same size in its initial
// state (vt10x.New, or a real terminal after a reset) to state s.
func (s *vtState) repaint() []byte {
	p := &painter{pen: defaultPen}
	if s.title != "" && !hasControl(s.title) {
		p.str("\x1b]2;" + s.title + "\x07")
	}
	p.str("\x1b[0m\x1b(B\x1b[?7h\x1b[H\x1b[2J")
	alt := s.mode&vt10x.ModeAltScreen != 0
	if alt {
		p.paint(s.other)
		// Going to the alternate screen saves the cursor, which leaving it
		// restores: that is the saved cursor.
		p.savedCursor(s.saved, "\x1b[?1049h")
		p.setPen(defaultPen)
		// vt10x keeps the old content of the alternate screen: clear it.
		p.str("\x1b[2J")
	}
	p.paint(s.lines)
	// The saved cursor (DECSC; vt10x has one for both screens). It may
	// lie outside the scroll region, so this comes first.
	p.savedCursor(s.saved, "\x1b7")
	if s.top != 0 || s.bottom != s.rows-1 {
		p.csi(s.top+1, s.bottom+1)
		p.str("r")
	}
	// Tab stops always: a real terminal may have others set before.
	p.str("\x1b[3g")
	for x, on := range s.tabs {
		if on {
			p.move(x, 0)
			p.str("\x1bH")
		}
	}
	for _, m := range modes {
		if s.mode&m.flag == 0 {
			continue
		}
		if m.priv {
			p.str("\x1b[?")
		} else {
			p.str("\x1b[")
		}
		p.b = strconv.AppendInt(p.b, int64(m.n), 10)
		p.str("h")
	}
	if s.mode&vt10x.ModeAppKeypad != 0 {
		p.str("\x1b=")
	}
	if s.cur.State&cursorOrigin != 0 {
		p.str("\x1b[?6h")
	}
	if s.cur.State&cursorWrapNext != 0 {
		// The cursor waits past the last column: writing that column's
		// character again puts it there.
		last := s.cur
		last.X = s.cols - 1
		p.cursorTo(last, s.top)
		g := s.lines[s.cur.Y][s.cols-1]
		p.put(g)
		if erased(g) {
			// Erasing keeps the cursor where it waits.
			p.setPen(attrPen(g))
			p.str("\x1b[X")
		}
	} else {
		p.cursorTo(s.cur, s.top)
	}
	if s.mode&vt10x.ModeWrap == 0 {
		p.str("\x1b[?7l")
	}
	if s.mode&vt10x.ModeHide != 0 {
		p.str("\x1b[?25l")
	}
	p.setPen(attrPen(s.cur.Attr))
	return p.b
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
