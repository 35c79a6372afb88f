// Package termfilter writes recorded terminal output to the viewer's
// terminal without what a recorded user could use against the viewer:
// queries the terminal answers (its answer arrives as if the viewer had
// typed it: device attributes, status and cursor position reports, DECRQSS,
// DECRQM, XTVERSION, window and title reports), the clipboard (OSC 52) and
// every other control string but the title, and the sequences that would
// make the viewer's terminal show something else than play/screen models
// (rectangle operations, left and right margins, VT52 mode, keyboard lock,
// the alignment test). Text, colours, cursor movement, scrolling, erasing,
// modes, the alternate screen and titles pass unchanged.
//
// Sequences may be split across writes: the bytes of one are held until it
// is known whether it passes. The filter parses as play/screen does
// (play/vtparse), but also takes bytes 0x80-0x9F that are not UTF-8 for C1
// controls, as a terminal not in UTF-8 mode would.
package termfilter

import (
	"bytes"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/vtparse"
)

// maxHeld bounds the bytes of a sequence held before it is known whether
// it passes; a longer control sequence is dropped.
const maxHeld = 256

type decision uint8

const (
	outside   decision = iota // not in a sequence
	undecided                 // held
	pass
	drop
)

// Filter is an io.Writer that passes output on to the terminal, filtered.
type Filter struct {
	w     io.Writer
	p     vtparse.Parser
	d     decision // on the sequence in progress
	isStr bool     // it is a control string
	// A title that passed was cut short by the sequence in progress. If
	// that is dropped, the title must be ended, or the terminal would take
	// what follows for the title.
	openTitle bool
	// The last thing was a sequence dropped: an ST (the end of a string
	// dropped) is dropped too.
	afterDrop bool
	char      []byte // a character's first bytes, between sequences
	held      []byte
	out       []byte
}

// New returns a Filter writing to w.
func New(w io.Writer) *Filter {
	f := &Filter{w: w}
	f.p.RawC1 = true
	return f
}

// Reset forgets a sequence in progress: what follows is written to a
// terminal that was reset (a seek).
func (f *Filter) Reset() {
	f.p.Reset()
	f.d, f.isStr, f.openTitle, f.afterDrop = outside, false, false, false
	f.char, f.held = f.char[:0], f.held[:0]
}

// Write passes b on, filtered. It returns len(b) unless writing fails.
func (f *Filter) Write(b []byte) (int, error) {
	f.out = f.out[:0]
	for i := 0; i < len(b); {
		if f.d == outside && f.p.Ground() {
			// Between sequences, ASCII other than ESC and ENQ passes and
			// leaves the parser where it is.
			j := i
			for j < len(b) && b[j] < 0x80 && b[j] != 0x1b && b[j] != 0x05 {
				j++
			}
			if j > i {
				f.out = append(f.out, b[i:j]...)
				f.afterDrop = false
				i = j
				continue
			}
		}
		f.byte(b[i])
		i++
	}
	if len(f.out) > 0 {
		if _, err := f.w.Write(f.out); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (f *Filter) byte(c byte) {
	p := &f.p
	wasIn, inChar := p.InSequence(), f.d == outside && p.InChar()
	act := p.Next(c)
	if inChar {
		// The bytes of a character between sequences are held: it may be
		// a C1 control.
		switch full := append(f.char, c); {
		case !utf8.FullRune(full):
			f.char = full
			return
		case !utf8.Valid(full):
			// Cut short: the terminal shows U+FFFD for what came.
			f.out = append(f.out, f.char...)
			f.char = f.char[:0]
		case p.Begun():
			f.char = f.char[:0]
			f.begin(full, act, wasIn)
			return
		default:
			f.out = append(f.out, full...)
			f.char = f.char[:0]
			f.afterDrop = false
			return
		}
	}
	if p.Begun() {
		f.begin([]byte{c}, act, wasIn)
		return
	}
	switch f.d {
	case outside:
		switch {
		case p.InChar():
			f.char = append(f.char[:0], c)
		case act != vtparse.Execute || p.Rune != 0x05: // ENQ asks for the answerback
			f.out = append(f.out, c)
			f.afterDrop = false
		}
	case undecided:
		f.held = append(f.held, c)
		if len(f.held) > maxHeld {
			f.d, f.held = drop, f.held[:0]
		}
	case pass:
		f.out = append(f.out, c)
	}
	if p.InString() != 0 {
		f.isStr = true
	}
	switch {
	case act == vtparse.Esc || act == vtparse.CSI || act == vtparse.String:
		f.end(act, false)
	case f.d != outside && !p.InSequence():
		f.end(vtparse.None, false) // abandoned: CAN, SUB, malformed
	case f.d == undecided && f.isStr:
		f.decideEarly()
	}
}

// begin starts holding a sequence that begins with b. The one in progress
// ended before it: complete if it was a control string (act String),
// else abandoned.
func (f *Filter) begin(b []byte, act vtparse.Action, wasIn bool) {
	if wasIn {
		prev := vtparse.None
		if act == vtparse.String {
			prev, act = act, vtparse.None
		}
		f.end(prev, true)
	}
	f.d, f.isStr, f.held = undecided, f.p.InString() != 0, append(f.held[:0], b...)
	switch {
	case act == vtparse.Esc: // a C1 control that is a whole sequence
		f.end(act, false)
	case f.isStr:
		f.decideEarly()
	}
}

// end finishes the sequence in progress, which ended with act (None: it
// was abandoned); cut tells that another sequence cut it short.
func (f *Filter) end(act vtparse.Action, cut bool) {
	if f.d == undecided && f.afterDrop && act == vtparse.Esc && f.p.Final == '\\' && len(f.p.Inter()) == 0 {
		f.d = drop // the ST of a string dropped
	}
	if f.d == undecided {
		f.d = drop
		switch act {
		case vtparse.Esc:
			f.d = f.decideEsc()
		case vtparse.CSI:
			f.d = f.decideCSI()
		case vtparse.String:
			f.d = f.decideString(true)
		}
		if f.d == pass {
			f.out = append(f.out, f.held...)
		}
	}
	f.closeTitle()
	f.openTitle = f.isStr && cut && f.d == pass
	f.afterDrop = f.d == drop
	f.d, f.isStr, f.held = outside, false, f.held[:0]
}

func (f *Filter) decideEsc() decision {
	p := &f.p
	switch {
	case len(p.Inter()) == 0 && p.Final == 'Z': // DECID asks for the attributes
		return drop
	case string(p.Inter()) == "#": // the alignment test, line sizes
		return drop
	}
	return pass
}

// csiPass are the control sequences without private marker nor
// intermediates that pass: those play/screen models.
const csiPass = "@ABCDEFGHIJKLMPSTXZ`abdefghlmrsu"

func (f *Filter) decideCSI() decision {
	p := &f.p
	inter := string(p.Inter())
	switch {
	case inter == "!" && p.Priv == 0 && p.Final == 'p', // DECSTR
		inter == " " && p.Priv == 0 && p.Final == 'q': // cursor style
		return pass
	case inter != "":
		return drop
	case p.Priv == '?':
		switch p.Final {
		case 'J', 'K':
			return pass
		case 'h', 'l':
			if slices.ContainsFunc(p.Params(), func(m int) bool {
				// VT52 mode, 132 columns, left and right margins, mouse
				// highlighting (which waits for the program's answer).
				return m == 2 || m == 3 || m == 40 || m == 69 || m == 1001
			}) {
				return drop
			}
			return pass
		}
		return drop
	case p.Priv != 0, bytes.IndexByte([]byte(csiPass), p.Final) < 0:
		return drop
	case p.Final == 'h' || p.Final == 'l':
		// Insert, local echo and new line modes only: not the keyboard lock.
		if slices.ContainsFunc(p.Params(), func(m int) bool { return m != 4 && m != 12 && m != 20 }) {
			return drop
		}
	}
	return pass
}

// decideEarly decides on a control string as soon as its start tells.
func (f *Filter) decideEarly() {
	d := f.decideString(false)
	if d == undecided {
		return
	}
	f.d = d
	if d == pass {
		f.out = append(f.out, f.held...)
	}
	f.held = f.held[:0]
	f.closeTitle()
}

// closeTitle ends a title cut short by a sequence that is not passed on:
// the terminal does not see what ended it.
func (f *Filter) closeTitle() {
	if f.openTitle && f.d != pass {
		f.out = append(f.out, "\x1b\\"...)
	}
	f.openTitle = false
}

// decideString decides on a control string: only OSC 0, 1 and 2 (the
// titles) pass. Until it is complete, it stays undecided while the OSC
// number may still be coming.
func (f *Filter) decideString(complete bool) decision {
	p := &f.p
	if p.Kind != ']' {
		return drop
	}
	s := p.Str()
	num, _, found := bytes.Cut(s, []byte(";"))
	switch {
	case found && len(num) == 1 && num[0] >= '0' && num[0] <= '2':
		return pass
	case !found && !complete && len(s) < 8:
		return undecided
	}
	return drop
}
