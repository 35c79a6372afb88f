package reader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/rec/tlog"
)

// This file is a tlog message decoder that does not use encoding/json:
// exporting is bound by decoding, and encoding/json (map of raw messages,
// then one Unmarshal per field) runs at a few tens of MB/s. The decoder
// accepts exactly what tlog.ParseMessage accepts and yields the same values;
// the differential fuzz test FuzzDecodeMatchesParseMessage holds it to that.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// Field indexes, in the order ParseMessage checks them so that the first
// reported problem is the same.
const (
	fVer = iota
	fHost
	fRec
	fUser
	fTerm
	fSession
	fID
	fPos
	fTime
	fTiming
	fInTxt
	fInBin
	fOutTxt
	fOutBin
	fVigil // Vigil's integrity fields; not a tlog field, kept raw
	nFields
)

var fieldNames = [nFields]string{"ver", "host", "rec", "user", "term", "session", "id", "pos", "time", "timing", "in_txt", "in_bin", "out_txt", "out_bin", "vigil"}

func fieldIndex(name []byte) int {
	switch string(name) {
	case "ver":
		return fVer
	case "host":
		return fHost
	case "rec":
		return fRec
	case "user":
		return fUser
	case "term":
		return fTerm
	case "session":
		return fSession
	case "id":
		return fID
	case "pos":
		return fPos
	case "time":
		return fTime
	case "timing":
		return fTiming
	case "in_txt":
		return fInTxt
	case "in_bin":
		return fInBin
	case "out_txt":
		return fOutTxt
	case "out_bin":
		return fOutBin
	case "vigil":
		return fVigil
	}
	return -1
}

// JSON value types, named as json-c (and tlog.ParseMessage) name them.
type jtype uint8

const (
	jNone jtype = iota
	jString
	jInt
	jDouble
	jBool
	jNull
	jArray
	jObject
)

var jtypeNames = [...]string{"none", "string", "int", "double", "boolean", "null", "array", "object"}

// span locates one member's value in the line. For strings, start and end
// exclude the quotes; when the value is not the bytes as they stand
// (escapes, invalid UTF-8), it was decoded to text[dstart:dend].
type span struct {
	start, end   int
	typ          jtype
	decoded      bool
	dstart, dend int
}

// syntaxError is a JSON syntax error at a byte offset of the line.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid message JSON at byte %d: %s", e.off+1, e.msg)
}

// decoder decodes lines into Messages, reusing its buffers: the byte slices
// of a Message stay valid until the next decode.
type decoder struct {
	b     []byte
	spans [nFields]span
	text  []byte // unescaped strings
	bin   [2][]byte
	data  []byte // event data
	ends  []int  // end offset in data of each event
}

func fieldErr(field, reason, format string, a ...any) error {
	return &tlog.FieldError{Field: field, Reason: reason, Detail: fmt.Sprintf(format, a...)}
}

// decode parses line (with or without its '\n') into m with
// tlog.ParseMessage's rules. Strings that repeat the previous message's
// values (host, user ...) are reused instead of allocated again.
func (d *decoder) decode(line []byte, m *Message) error {
	d.b = line
	d.spans = [nFields]span{}
	d.text = d.text[:0]
	if err := d.object(); err != nil {
		return err
	}
	return d.fields(m)
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (d *decoder) ws(i int) int {
	for i < len(d.b) && isWS(d.b[i]) {
		i++
	}
	return i
}

func (d *decoder) errAt(i int, format string, a ...any) error {
	return &syntaxError{off: i, msg: fmt.Sprintf(format, a...)}
}

func (d *decoder) unexpected(i int, what string) error {
	if i >= len(d.b) {
		return d.errAt(i, "unexpected end of line, want %s", what)
	}
	return d.errAt(i, "unexpected %q, want %s", d.b[i], what)
}

// object scans the top-level object, validating all of it, and records the
// spans of the known members (the last occurrence of a duplicated name
// wins, as when decoding into a map).
func (d *decoder) object() error {
	i := d.ws(0)
	if i < len(d.b) && d.b[i] == 'n' {
		end, _, err := d.value(i, 0)
		if err != nil {
			return err
		}
		if j := d.ws(end); j < len(d.b) {
			return d.unexpected(j, "end of line")
		}
		return errors.New("message is not a JSON object")
	}
	if i >= len(d.b) || d.b[i] != '{' {
		return d.unexpected(i, "'{'")
	}
	i = d.ws(i + 1)
	if i < len(d.b) && d.b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(d.b) || d.b[i] != '"' {
				return d.unexpected(i, "a member name")
			}
			n := len(d.text)
			kEnd, decoded, err := d.str(i, true)
			if err != nil {
				return err
			}
			f := -1
			if decoded {
				f = fieldIndex(d.text[n:])
				d.text = d.text[:n]
			} else {
				f = fieldIndex(d.b[i+1 : kEnd-1])
			}
			i = d.ws(kEnd)
			if i >= len(d.b) || d.b[i] != ':' {
				return d.unexpected(i, "':'")
			}
			i = d.ws(i + 1)
			var sp span
			if i < len(d.b) && d.b[i] == '"' {
				// Known members are decoded as they are validated: one
				// pass over the bulk of the line, the recorded text.
				sp.dstart = len(d.text)
				sp.end, sp.decoded, err = d.str(i, f >= 0)
				sp.start, sp.typ, sp.dend = i+1, jString, len(d.text)
			} else {
				sp.start = i
				sp.end, sp.typ, err = d.value(i, 1)
			}
			if err != nil {
				return err
			}
			end := sp.end
			if sp.typ == jString {
				sp.end--
			}
			if f >= 0 {
				d.spans[f] = sp
			}
			i = d.ws(end)
			if i < len(d.b) && d.b[i] == ',' {
				i = d.ws(i + 1)
				continue
			}
			if i < len(d.b) && d.b[i] == '}' {
				i++
				break
			}
			return d.unexpected(i, "',' or '}'")
		}
	}
	if j := d.ws(i); j < len(d.b) {
		return d.unexpected(j, "end of line")
	}
	return nil
}

// value validates the JSON value at i and returns its end and type.
func (d *decoder) value(i, depth int) (int, jtype, error) {
	if i >= len(d.b) {
		return i, jNone, d.unexpected(i, "a value")
	}
	switch c := d.b[i]; {
	case c == '"':
		end, _, err := d.str(i, false)
		return end, jString, err
	case c == '{' || c == '[':
		if depth+1 > maxDepth {
			return i, jNone, d.errAt(i, "nested deeper than %d", maxDepth)
		}
		end, err := d.container(i, depth+1)
		if c == '{' {
			return end, jObject, err
		}
		return end, jArray, err
	case c == 't':
		return d.literal(i, "true", jBool)
	case c == 'f':
		return d.literal(i, "false", jBool)
	case c == 'n':
		return d.literal(i, "null", jNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number(i)
	}
	return i, jNone, d.unexpected(i, "a value")
}

func (d *decoder) literal(i int, lit string, t jtype) (int, jtype, error) {
	if len(d.b)-i < len(lit) || string(d.b[i:i+len(lit)]) != lit {
		return i, jNone, d.errAt(i, "invalid literal, want %s", lit)
	}
	return i + len(lit), t, nil
}

// container validates an object or array starting at i.
func (d *decoder) container(i, depth int) (int, error) {
	obj := d.b[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = d.ws(i + 1)
	if i < len(d.b) && d.b[i] == closer {
		return i + 1, nil
	}
	for {
		if obj {
			if i >= len(d.b) || d.b[i] != '"' {
				return i, d.unexpected(i, "a member name")
			}
			end, _, err := d.str(i, false)
			if err != nil {
				return end, err
			}
			i = d.ws(end)
			if i >= len(d.b) || d.b[i] != ':' {
				return i, d.unexpected(i, "':'")
			}
			i = d.ws(i + 1)
		}
		end, _, err := d.value(i, depth)
		if err != nil {
			return end, err
		}
		i = d.ws(end)
		if i < len(d.b) && d.b[i] == ',' {
			i = d.ws(i + 1)
			continue
		}
		if i < len(d.b) && d.b[i] == closer {
			return i + 1, nil
		}
		return i, d.unexpected(i, "',' or '"+string(closer)+"'")
	}
}

// number validates a JSON number; it is an int when it has no fraction and
// no exponent.
func (d *decoder) number(i int) (int, jtype, error) {
	b, start := d.b, i
	t := jInt
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, jNone, d.errAt(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		t, i = jDouble, i+1
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, jNone, d.errAt(start, "invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		t, i = jDouble, i+1
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, jNone, d.errAt(start, "invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, t, nil
}

// SWAR constants: a byte repeated in all eight lanes of a uint64.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// special reports whether any of the 8 bytes in x is a quote, a backslash
// or a control character (< 0x20): the bytes a string scan must stop at.
func special(x uint64) bool {
	return (hasZero(x^(lanes01*'"')) | hasZero(x^(lanes01*'\\')) | ((x - lanes01*0x20) & ^x & lanes80)) != 0
}

// hasZero has a high bit set in some lane if a byte of v is zero.
func hasZero(v uint64) uint64 { return (v - lanes01) & ^v & lanes80 }

// str validates the string starting with the quote at i and returns the
// offset after its closing quote. With dec, a string that is not its bytes
// as they stand (escapes, invalid UTF-8) is decoded as encoding/json does,
// appended to d.text, and decoded is true; invalid UTF-8 bytes and unpaired
// surrogates become U+FFFD.
func (d *decoder) str(i int, dec bool) (end int, decoded bool, err error) {
	b := d.b
	run := i + 1 // the bytes from here on are not in d.text yet
	flush := func(to int) {
		decoded = true
		d.text = append(d.text, b[run:to]...)
	}
	for i++; i < len(b); {
		// Skip eight plain ASCII bytes at a time: terminal text is mostly
		// long runs of them.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if special(x) || x&lanes80 != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			if decoded {
				flush(i)
			}
			return i + 1, decoded, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i + 1, false, d.errAt(i+1, "unterminated string")
			}
			e := b[i+1]
			var r rune
			n := 2
			switch e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				if len(b)-i < 6 || !isHex4(b[i+2:i+6]) {
					return i + 1, false, d.errAt(i+1, `invalid \u escape`)
				}
				r, n = hex4(b[i+2:]), 6
				if utf16.IsSurrogate(r) {
					// A pair makes one character; anything else is U+FFFD
					// (a following escape is read on its own).
					j := i + 6
					r = utf8.RuneError
					if len(b)-j >= 6 && b[j] == '\\' && b[j+1] == 'u' && isHex4(b[j+2:j+6]) {
						if pair := utf16.DecodeRune(hex4(b[i+2:]), hex4(b[j+2:])); pair != utf8.RuneError {
							r, n = pair, 12
						}
					}
				}
			default:
				return i + 1, false, d.errAt(i+1, "invalid escape %q", e)
			}
			if dec {
				flush(i)
				d.text = utf8.AppendRune(d.text, r)
			}
			i += n
			run = i
		case c < 0x20:
			return i, false, d.errAt(i, "control character %#02x in string", c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 && dec {
				flush(i)
				d.text = utf8.AppendRune(d.text, utf8.RuneError)
				run = i + 1
			}
			i += size
		}
	}
	return i, false, d.errAt(i, "unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// get returns field f's span, checking presence and type.
func (d *decoder) get(f int, required bool, types ...jtype) (span, bool, error) {
	sp := d.spans[f]
	if sp.typ == jNone {
		if required {
			return sp, false, &tlog.FieldError{Field: fieldNames[f], Reason: "missing"}
		}
		return sp, false, nil
	}
	for _, t := range types {
		if sp.typ == t {
			return sp, true, nil
		}
	}
	return sp, false, fieldErr(fieldNames[f], "invalid type", "%s, want %s", jtypeNames[sp.typ], jtypeNames[types[0]])
}

// strBytes returns a string field's decoded bytes.
func (d *decoder) strBytes(sp span) []byte {
	if sp.decoded {
		return d.text[sp.dstart:sp.dend:sp.dend]
	}
	return d.b[sp.start:sp.end]
}

// strField decodes a string field into *dst, keeping *dst when it already
// holds the same text.
func (d *decoder) strField(f int, required bool, dst *string) error {
	sp, ok, err := d.get(f, required, jString)
	if !ok {
		if err == nil {
			*dst = ""
		}
		return err
	}
	if b := d.strBytes(sp); string(b) != *dst {
		*dst = string(b)
	}
	return nil
}

// intField parses a required int field in lo..hi (strconv.ParseInt rules).
func (d *decoder) intField(f int, lo, hi int64) (int64, error) {
	sp, _, err := d.get(f, true, jInt)
	if err != nil {
		return 0, err
	}
	raw := d.b[sp.start:sp.end]
	n, ok := parseInt(raw)
	if !ok || n < lo || n > hi {
		return 0, fieldErr(fieldNames[f], "invalid value", "%s not in %d..%d", raw, lo, hi)
	}
	return n, nil
}

// parseInt parses a JSON int (-?digits) into an int64.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// fields checks and converts the members in ParseMessage's order.
func (d *decoder) fields(m *Message) error {
	sp, _, err := d.get(fVer, true, jString, jInt)
	if err != nil {
		return err
	}
	var ver []byte
	if sp.typ == jString {
		ver = d.strBytes(sp)
	} else {
		ver = d.b[sp.start:sp.end]
	}
	if string(ver) != m.Ver {
		m.Ver = string(ver)
	}
	if m.Major, m.Minor, err = tlog.ParseVer(m.Ver); err != nil {
		return err
	}
	if err := d.strField(fHost, true, &m.Host); err != nil {
		return err
	}
	if err := d.strField(fRec, false, &m.Rec); err != nil {
		return err
	}
	if err := d.strField(fUser, true, &m.User); err != nil {
		return err
	}
	if err := d.strField(fTerm, true, &m.Term); err != nil {
		return err
	}
	n, err := d.intField(fSession, 1, math.MaxUint32)
	if err != nil {
		return err
	}
	m.Session = uint32(n)
	if n, err = d.intField(fID, 0, math.MaxInt64); err != nil {
		return err
	}
	m.ID = uint64(n)
	if n, err = d.intField(fPos, 0, tlog.MaxDelayMs); err != nil {
		return err
	}
	m.Pos = time.Duration(n) * time.Millisecond
	if m.Time, err = d.timeField(); err != nil {
		return err
	}
	if sp, _, err = d.get(fTiming, true, jString); err != nil {
		return err
	}
	m.Timing = d.strBytes(sp)
	txt := [2][]byte{}
	for s, f := range [2]int{fInTxt, fOutTxt} {
		if sp, ok, err := d.get(f, false, jString); err != nil {
			return err
		} else if ok {
			txt[s] = d.strBytes(sp)
		}
		// ParseMessage checks in_txt, in_bin, out_txt, out_bin in turn.
		if d.bin[s], err = d.binField(f + 1); err != nil {
			return err
		}
	}
	m.InTxt, m.OutTxt = txt[0], txt[1]
	m.InBin, m.OutBin = d.bin[0], d.bin[1]
	evs, err := d.timing(m.Events[:0], m.Timing, m.Pos, txt, d.bin)
	m.Events = evs
	m.Vigil = nil
	if sp := d.spans[fVigil]; sp.typ == jObject {
		m.Vigil = d.b[sp.start:sp.end:sp.end]
	}
	return err
}

// timeField parses the optional "time" like tlog's sscanf("%ld.%03ld"):
// the first three fraction digits are milliseconds.
func (d *decoder) timeField() (time.Time, error) {
	sp, ok, err := d.get(fTime, false, jDouble)
	if !ok {
		return time.Time{}, err
	}
	raw := d.b[sp.start:sp.end]
	if sec, ms, ok := plainTime(raw); ok {
		return time.Unix(sec, ms*int64(time.Millisecond)), nil
	}
	s := string(raw)
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x < 0 || math.IsInf(x, 0) {
		return time.Time{}, fieldErr("time", "invalid value", "%s", s)
	}
	secStr, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			secStr, frac = s[:i], s[i+1:]
			break
		}
	}
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		// Exponent forms: fall back to the float value, as ParseMessage.
		return time.UnixMilli(int64(x * 1000)), nil
	}
	var ms int64
	for i := 0; i < 3; i++ {
		ms *= 10
		if i < len(frac) && frac[i] >= '0' && frac[i] <= '9' {
			ms += int64(frac[i] - '0')
		}
	}
	return time.Unix(sec, ms*int64(time.Millisecond)), nil
}

// plainTime is the common form DIGITS.DIGITS without sign or exponent,
// small enough to be exact; anything else takes the general path.
func plainTime(b []byte) (sec, ms int64, ok bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i == 15 {
			return 0, 0, false
		}
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || i >= len(b) || b[i] != '.' {
		return 0, 0, false
	}
	frac := b[i+1:]
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
	}
	for k := 0; k < 3; k++ {
		ms *= 10
		if k < len(frac) {
			ms += int64(frac[k] - '0')
		}
	}
	return sec, ms, true
}

// binField reads a required byte array: its elements up to the first that
// is not an int 0..255 (tlog checks only the bytes the timing uses).
func (d *decoder) binField(f int) ([]byte, error) {
	sp, _, err := d.get(f, true, jArray)
	if err != nil {
		return nil, err
	}
	s := (f - fInBin) / 2
	out := d.bin[s][:0]
	b := d.b[:sp.end]
	i := d.ws(sp.start + 1)
	for i < len(b) && b[i] != ']' {
		// Fast path: a plain 1-3 digit element.
		v, j := 0, i
		for j < len(b) && j-i < 4 && b[j] >= '0' && b[j] <= '9' {
			v = v*10 + int(b[j]-'0')
			j++
		}
		if j == i || j-i > 3 || v > 255 || (j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E')) {
			// Anything else (sign, fraction, nested value): take the
			// general path for this element, then stop collecting.
			end, typ, _ := d.value(i, 1)
			if typ == jInt {
				if n, ok := parseInt(b[i:end]); ok && n >= 0 && n <= 255 {
					out = append(out, byte(n))
					i = d.ws(end)
					if i < len(b) && b[i] == ',' {
						i = d.ws(i + 1)
					}
					continue
				}
			}
			break
		}
		out = append(out, byte(v))
		i = d.ws(j)
		if i < len(b) && b[i] == ',' {
			i = d.ws(i + 1)
		}
	}
	return out, nil
}

// takeChars splits off the first n code points of valid UTF-8 text.
func takeChars(s []byte, n uint64) (head, rest []byte, ok bool) {
	i := 0
	for n > 0 {
		// Eight ASCII characters at a time.
		if n >= 8 && i+8 <= len(s) && binary.LittleEndian.Uint64(s[i:])&lanes80 == 0 {
			i += 8
			n -= 8
			continue
		}
		if i >= len(s) {
			return nil, s, false
		}
		i++
		for i < len(s) && s[i]&0xc0 == 0x80 {
			i++
		}
		n--
	}
	return s[:i], s[i:], true
}

var txtFields = [2]string{"in_txt", "out_txt"}
var binFields = [2]string{"in_bin", "out_bin"}

// timing walks the timing program like tlog's json_msg.c and appends the
// events to evs. Adjacent text and binary data of one stream at the same
// time merge into one event, as in tlog.ParseMessage.
func (d *decoder) timing(evs []tlog.Event, tm []byte, t time.Duration, txt [2][]byte, bin [2][]byte) ([]tlog.Event, error) {
	d.data, d.ends = d.data[:0], d.ends[:0]
	for i := 0; ; {
		r, next, done, err := tlog.NextTimingRecord(tm, i)
		if err != nil {
			return evs, err
		}
		if done {
			break
		}
		i = next
		a, b, typ := r.A, r.B, r.Op
		switch typ {
		case '+':
			t += r.Delay()
			continue
		case '=':
			evs = append(evs, tlog.Event{Kind: tlog.KindWindow, T: t, Cols: int(a), Rows: int(b)})
			d.ends = append(d.ends, len(d.data))
			continue
		}
		si, kind := 0, tlog.KindIn
		if typ == '>' || typ == ']' {
			si, kind = 1, tlog.KindOut
		}
		var data []byte
		var ok bool
		if typ == '<' || typ == '>' {
			if data, txt[si], ok = takeChars(txt[si], a); !ok {
				return evs, fieldErr(txtFields[si], "invalid value", "timing wants %d more characters", a)
			}
		} else {
			if _, txt[si], ok = takeChars(txt[si], a); !ok {
				return evs, fieldErr(txtFields[si], "invalid value", "timing wants %d more characters", a)
			}
			if uint64(len(bin[si])) < b {
				return evs, fieldErr(binFields[si], "invalid value", "timing wants %d more bytes, %d valid left", b, len(bin[si]))
			}
			data, bin[si] = bin[si][:b], bin[si][b:]
		}
		if len(data) == 0 {
			continue
		}
		d.data = append(d.data, data...)
		if k := len(evs) - 1; k >= 0 && evs[k].Kind == kind && evs[k].T == t {
			d.ends[k] = len(d.data)
		} else {
			evs = append(evs, tlog.Event{Kind: kind, T: t})
			d.ends = append(d.ends, len(d.data))
		}
	}
	// Point the events at their data only now: d.data may have moved.
	start := 0
	for k := range evs {
		if evs[k].Kind != tlog.KindWindow {
			evs[k].Data = d.data[start:d.ends[k]:d.ends[k]]
		} else {
			evs[k].Data = nil
		}
		start = d.ends[k]
	}
	return evs, nil
}
