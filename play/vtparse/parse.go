// Package vtparse splits terminal output into characters, control codes,
// escape and control sequences and control strings, one byte at a time,
// the way a VT500-series terminal (and xterm) parses it: the state machine
// of https://vt100.net/emu/dec_ansi_parser, on UTF-8 decoded input, with C1
// controls (U+0080-U+009F) acting as their ESC equivalents. The screen
// model (play/screen) and the playback filter (play/termfilter) share it,
// so that both see the same sequences where the viewer's terminal does.
//
// Nothing it keeps grows with the input: parameters, intermediates and
// string contents beyond fixed limits are counted out, not stored.
package vtparse

import "unicode/utf8"

// Action is what the byte just given completed.
type Action uint8

// Actions.
const (
	None    Action = iota // nothing yet: inside a sequence or a character, or a byte ignored
	Print                 // a character to show: Rune
	Execute               // a C0 control code (or DEL): Rune
	Esc                   // an escape sequence: Inter, Final
	CSI                   // a control sequence: Priv, Params, Inter, Final
	String                // a control string ended (OSC, DCS, SOS, PM, APC): Kind, Str
)

// Limits on what a sequence keeps.
const (
	MaxParams = 16      // parameters kept; later ones are dropped
	MaxParam  = 65535   // larger parameter values are cut to this
	MaxInter  = 2       // intermediate bytes; a sequence with more is ignored
	MaxStr    = 4 << 10 // bytes of a control string kept
)

type state uint8

const (
	ground state = iota
	escape
	escInter
	csiParam // after CSI: parameters, private marker first
	csiInter
	csiIgnore // a malformed control sequence, up to its final byte
	str       // in a control string
)

// Parser is the parser's state between bytes. The zero Parser is ready.
type Parser struct {
	// RawC1, if set, takes a byte 0x80-0x9F that is not part of valid
	// UTF-8 for the C1 control of that code, as a terminal that does not
	// decode UTF-8 would. Filters set it (it errs on the safe side); the
	// screen model does not (a UTF-8 terminal ignores such bytes).
	RawC1 bool

	state  state
	begun  bool
	need   int // UTF-8 continuation bytes still to come
	acc    rune
	lo, hi byte // the range of the next continuation byte

	// Rune is the character of Print, or the control code of Execute.
	Rune rune
	// Priv is a control sequence's private marker ('<', '=', '>' or '?'),
	// 0 if none.
	Priv byte
	// Final is an escape or control sequence's final byte.
	Final byte
	// Kind is a control string's type: ']' OSC, 'P' DCS, 'X' SOS, '^' PM,
	// '_' APC.
	Kind byte

	params  [MaxParams]int
	nparams int
	digits  bool // the current parameter has digits
	inter   [MaxInter]byte
	ninter  int
	strBuf  [MaxStr]byte
	nstr    int
}

// Params returns the control sequence's parameters; an empty parameter is
// 0. Valid until the next byte.
func (p *Parser) Params() []int { return p.params[:p.nparams] }

// Param returns parameter i, or def if it is missing or 0.
func (p *Parser) Param(i, def int) int {
	if i < p.nparams && p.params[i] != 0 {
		return p.params[i]
	}
	return def
}

// Inter returns the sequence's intermediate bytes. Valid until the next
// byte.
func (p *Parser) Inter() []byte { return p.inter[:min(p.ninter, MaxInter)] }

// Str returns the control string (its first MaxStr bytes), complete after
// String, so far while InString. Valid until the next byte.
func (p *Parser) Str() []byte { return p.strBuf[:p.nstr] }

// Ground tells whether the parser is between characters and sequences.
func (p *Parser) Ground() bool { return p.state == ground && p.need == 0 }

// InChar tells whether the parser is inside a UTF-8 encoded character.
func (p *Parser) InChar() bool { return p.need > 0 }

// InSequence tells whether the parser is inside an escape sequence, a
// control sequence or a control string.
func (p *Parser) InSequence() bool { return p.state != ground }

// InString returns the type of the control string the parser is in (see
// Kind), 0 outside one.
func (p *Parser) InString() byte {
	if p.state == str {
		return p.Kind
	}
	return 0
}

// Begun tells whether the byte just given began a sequence (ESC, or a C1
// introducer). A sequence in progress then ended before it: a control
// string with String, anything else abandoned.
func (p *Parser) Begun() bool { return p.begun }

// Reset puts the parser back between characters and sequences.
func (p *Parser) Reset() {
	raw := p.RawC1
	*p = Parser{RawC1: raw}
}

// Next takes one byte of output.
func (p *Parser) Next(b byte) Action {
	p.begun = false
	if b < 0x80 {
		// ASCII, most of the output, cuts short any character begun:
		// it is dropped.
		p.need = 0
		return p.code(rune(b))
	}
	if p.need > 0 {
		if b >= p.lo && b <= p.hi {
			p.acc = p.acc<<6 | rune(b&0x3f)
			p.lo, p.hi = 0x80, 0xbf
			if p.need--; p.need > 0 {
				return None
			}
			return p.code(p.acc)
		}
		// The character is cut short: it is dropped, and b starts afresh.
		p.need = 0
	}
	switch {
	case b >= 0xc2 && b <= 0xdf:
		p.need, p.acc, p.lo, p.hi = 1, rune(b&0x1f), 0x80, 0xbf
	case b >= 0xe0 && b <= 0xef:
		p.need, p.acc, p.lo, p.hi = 2, rune(b&0x0f), 0x80, 0xbf
		if b == 0xe0 {
			p.lo = 0xa0 // no overlong forms
		} else if b == 0xed {
			p.hi = 0x9f // no surrogates
		}
	case b >= 0xf0 && b <= 0xf4:
		p.need, p.acc, p.lo, p.hi = 3, rune(b&0x07), 0x80, 0xbf
		if b == 0xf0 {
			p.lo = 0x90
		} else if b == 0xf4 {
			p.hi = 0x8f
		}
	case p.RawC1 && b < 0xa0:
		return p.code(rune(b))
	}
	return None
}

// code runs the state machine on one character.
func (p *Parser) code(c rune) Action {
	// Characters first: most of the output.
	if p.state == ground && c >= 0x20 && c != 0x7f && (c < 0x80 || c >= 0xa0) {
		p.Rune = c
		return Print
	}
	// Transitions from anywhere.
	switch {
	case c == 0x18 || c == 0x1a: // CAN, SUB: abandon the sequence
		p.state = ground
		p.Rune = c
		return Execute
	case c == 0x1b:
		return p.begin(escape)
	case c >= 0x80 && c < 0xa0:
		return p.c1(c)
	}
	switch p.state {
	case ground: // C0 controls and DEL: the rest is taken above
		p.Rune = c
		return Execute
	case escape, escInter:
		return p.escByte(c)
	case csiParam, csiInter, csiIgnore:
		return p.csiByte(c)
	case str:
		return p.strByte(c)
	}
	return None
}

// begin starts a sequence in state s. A control string in progress ends
// there (as xterm ends one at any ESC).
func (p *Parser) begin(s state) Action {
	act := None
	if p.state == str {
		act = String
	}
	p.state, p.begun = s, true
	p.ninter, p.nparams, p.digits, p.Priv = 0, 0, false, 0
	return act
}

// c1 acts on a C1 control as its ESC equivalent does. Inside a control
// string, ST ends it and any other C1 control abandons it.
func (p *Parser) c1(c rune) Action {
	final := byte(c - 0x40)
	if final == '\\' {
		act := None
		if p.state == str {
			act = String
		}
		p.state = ground
		return act
	}
	p.state = ground
	switch final {
	case '[':
		p.begin(csiParam)
		return None
	case ']', 'P', 'X', '^', '_':
		p.begin(str)
		p.Kind, p.nstr = final, 0
		return None
	}
	p.begin(escape)
	return p.escByte(rune(final))
}

func (p *Parser) escByte(c rune) Action {
	switch {
	case c < 0x20 || c == 0x7f:
		if c == 0x7f {
			return None
		}
		p.Rune = c
		return Execute
	case c < 0x30:
		if p.ninter < MaxInter {
			p.inter[p.ninter] = byte(c)
		}
		p.ninter++
		p.state = escInter
		return None
	case c < 0x7f:
		if p.state == escape {
			switch c {
			case '[':
				p.state, p.nparams, p.digits, p.Priv = csiParam, 0, false, 0
				return None
			case ']', 'P', 'X', '^', '_':
				p.state, p.Kind, p.nstr = str, byte(c), 0
				return None
			}
		}
		p.state = ground
		if p.ninter > MaxInter {
			return None
		}
		p.Final = byte(c)
		return Esc
	}
	// Not ASCII: no escape sequence takes it.
	p.state = ground
	return None
}

func (p *Parser) csiByte(c rune) Action {
	switch {
	case c >= '0' && c <= '9' && p.state == csiParam:
		if p.nparams < MaxParams {
			v := p.params[p.nparams]
			if !p.digits {
				v = 0
			}
			p.params[p.nparams] = min(v*10+int(c-'0'), MaxParam)
		}
		p.digits = true
		return None
	case c < 0x20:
		p.Rune = c
		return Execute
	case c == 0x7f:
		return None
	case c >= 0x40 && c < 0x7f:
		ignore := p.state == csiIgnore || p.ninter > MaxInter
		p.state = ground
		if ignore {
			return None
		}
		if p.digits || p.nparams > 0 {
			p.endParam()
		}
		p.Final = byte(c)
		return CSI
	case p.state == csiIgnore:
		return None
	case c >= 0x20 && c < 0x30:
		if p.ninter < MaxInter {
			p.inter[p.ninter] = byte(c)
		}
		p.ninter++
		p.state = csiInter
		return None
	case c >= 0x30 && c < 0x40 && p.state == csiInter:
		p.state = csiIgnore
		return None
	case c == ';' || c == ':':
		// Sub-parameters (38:2:R:G:B) are taken as parameters.
		p.endParam()
		return None
	case c >= '<' && c <= '?':
		if p.digits || p.nparams > 0 || p.Priv != 0 {
			p.state = csiIgnore
			return None
		}
		p.Priv = byte(c)
		return None
	}
	// Not ASCII.
	p.state = csiIgnore
	return None
}

// endParam ends the current parameter (empty: 0).
func (p *Parser) endParam() {
	if p.nparams < MaxParams {
		if !p.digits {
			p.params[p.nparams] = 0
		}
		p.nparams++
	} else {
		p.nparams = MaxParams
	}
	p.digits = false
}

func (p *Parser) strByte(c rune) Action {
	if c == 0x07 && p.Kind == ']' {
		p.state = ground
		return String
	}
	if c < 0x20 || c == 0x7f {
		return None // other controls inside strings are ignored
	}
	if p.nstr < MaxStr {
		if c < 0x80 {
			p.strBuf[p.nstr] = byte(c)
			p.nstr++
		} else if n := utf8.RuneLen(c); p.nstr+n <= MaxStr {
			utf8.EncodeRune(p.strBuf[p.nstr:], c)
			p.nstr += n
		} else {
			p.nstr = MaxStr
		}
	}
	return None
}
