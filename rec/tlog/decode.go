package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a decoded timing event.
type Kind uint8

// Event kinds.
const (
	KindWindow Kind = iota // terminal size change (Cols, Rows)
	KindIn                 // user input (Data)
	KindOut                // terminal output (Data)
)

func (k Kind) String() string {
	switch k {
	case KindWindow:
		return "window"
	case KindIn:
		return "in"
	case KindOut:
		return "out"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one decoded timing event. Adjacent text and binary records of
// the same stream at the same time are merged into one event.
type Event struct {
	Kind       Kind
	T          time.Duration // pos + preceding delays
	Data       []byte        // KindIn/KindOut: bytes as recorded (bin bytes re-inserted)
	Cols, Rows int           // KindWindow
}

// FieldError reports a problem with one message field. Its text follows
// tlog-play's messages (lib/tlog/errs + json_msg.c), naming the field.
type FieldError struct {
	Field  string
	Reason string // "missing", "invalid type", "invalid value", "unsupported value"
	Detail string
}

func (e *FieldError) Error() string {
	var s string
	switch e.Reason {
	case "missing":
		s = fmt.Sprintf("A message field is missing: %q", e.Field)
	case "invalid type":
		s = fmt.Sprintf("A message field has invalid type: %q", e.Field)
	case "unsupported value":
		s = fmt.Sprintf("Message has unsupported %q field value", e.Field)
	default:
		s = fmt.Sprintf("Message has invalid %q field value", e.Field)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func fieldErr(field, reason, format string, a ...any) error {
	return &FieldError{Field: field, Reason: reason, Detail: fmt.Sprintf(format, a...)}
}

// ParseVer accepts a "ver" value, MAJOR[.MINOR] (decimal digits only), with
// MAJOR <= 2, as tlog-play does; both decoders use it.
func ParseVer(s string) (major, minor uint64, err error) {
	ms, rest, hasMinor := s, "", false
	if i := bytes.IndexByte([]byte(s), '.'); i >= 0 {
		ms, rest, hasMinor = s[:i], s[i+1:], true
	}
	major, err = strconv.ParseUint(ms, 10, 32)
	if err == nil && hasMinor {
		minor, err = strconv.ParseUint(rest, 10, 32)
	}
	if err != nil || !isDigits(ms) || (hasMinor && !isDigits(rest)) {
		return 0, 0, fieldErr("ver", "invalid value", "%q is not MAJOR[.MINOR]", s)
	}
	if major > 2 {
		return 0, 0, fieldErr("ver", "unsupported value", "major version %d > 2", major)
	}
	return major, minor, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Message is one decoded tlog message. Its byte slices and the events'
// Data alias the line or the Decoder's buffers: they are valid until the
// Decoder's next use, and must be copied to be kept.
type Message struct {
	Line int // 1-based line number in the input, set by readers

	Ver          string // as written ("2.3", or an integer's digits)
	Major, Minor uint64
	Host         string
	Rec          string // "" if absent
	User, Term   string
	Session      uint32
	ID           uint64
	Pos          time.Duration
	Time         time.Time // zero if the optional "time" is absent
	Timing       []byte
	InTxt        []byte
	InBin        []byte // elements up to the first that is not an int 0..255
	OutTxt       []byte
	OutBin       []byte
	Events       []Event
	// Vigil is the raw "vigil" object of Vigil's integrity fields (see
	// rec/spec/integrity.md), nil without one.
	Vigil []byte
	Size  int // bytes of the line, including its '\n', set by readers
}

// The Decoder does not use encoding/json: reading recordings is bound by
// decoding, and encoding/json (map of raw messages, then one Unmarshal per
// field) runs at a few tens of MB/s. It reads messages with tlog-play's
// rules (json_msg.c); the differential fuzz test
// FuzzDecodeMatchesParseMessage holds it to a plain encoding/json reading
// (reference_test.go): same acceptance, same first failing field, same
// values and events.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// Field indexes, in the order the fields are checked so that the first
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

// JSON value types, named as json-c names them.
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

// Decoder decodes message lines, reusing its buffers. Its zero value is
// ready to use; it is not safe for concurrent use.
type Decoder struct {
	b     []byte
	scan  bool // Scan: decode no string but "rec"
	spans [nFields]span
	text  []byte // unescaped strings
	bin   [2][]byte
	data  []byte // event data
	ends  []int  // end offset in data of each event
}

// Decode parses line (with or without its '\n') into m with tlog-play's
// rules: required fields and types as in json_msg.c, unknown fields
// ignored, ver "MAJOR[.MINOR]" as string or integer with MAJOR <= 2, and
// the timing decoded into events. Errors are a *FieldError naming the
// field, or a JSON syntax error. m's byte slices may alias line and the
// Decoder's buffers, valid until its next use; strings that repeat m's
// previous values (host, user ...) are kept instead of allocated again.
// Line and Size are left as they are.
func (d *Decoder) Decode(line []byte, m *Message) error {
	d.b, d.scan = line, false
	d.spans = [nFields]span{}
	d.text = d.text[:0]
	if err := d.object(); err != nil {
		return err
	}
	return d.fields(m)
}

// Head is what Scan reads of a line.
type Head struct {
	Host    string // "" if absent or not a string
	Rec     string // "" if absent or null
	ID      uint64 // 0 if absent or null
	Vigil   []byte // the raw value of the "vigil" member, of any type; nil if absent
	Members int    // members of the object, duplicates included
}

// Scan checks that line is a valid JSON object and reads its "rec" (a
// string) and "id" (an unsigned integer) members, and the raw value of its
// "vigil" member, without tlog's field rules: it accepts what
// encoding/json accepts decoding the line into a map of raw values, then
// "rec" into a string and "id" into a uint64 (null leaves either zero).
// Member names are matched exactly after unescaping; the last of duplicates
// wins. It also reads "host" when it is a string. h.Host and h.Rec are
// kept when they already hold the text; h.Vigil aliases line.
func (d *Decoder) Scan(line []byte, h *Head) error {
	d.b, d.scan = line, true
	d.spans = [nFields]span{}
	d.text = d.text[:0]
	n, err := d.objectMembers()
	if err != nil {
		return err
	}
	h.Members = n
	switch sp := d.spans[fHost]; sp.typ {
	case jString:
		if b := d.strBytes(sp); string(b) != h.Host {
			h.Host = string(b)
		}
	default:
		h.Host = ""
	}
	switch sp := d.spans[fRec]; sp.typ {
	case jNone, jNull:
		h.Rec = ""
	case jString:
		if b := d.strBytes(sp); string(b) != h.Rec {
			h.Rec = string(b)
		}
	default:
		return fmt.Errorf("rec: %s, want a string", jtypeNames[sp.typ])
	}
	h.ID = 0
	switch sp := d.spans[fID]; sp.typ {
	case jNone, jNull:
	case jInt:
		raw := d.b[sp.start:sp.end]
		id, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("id: %s is not an unsigned 64-bit integer", raw)
		}
		h.ID = id
	default:
		return fmt.Errorf("id: %s, want an unsigned integer", jtypeNames[sp.typ])
	}
	h.Vigil = nil
	if sp := d.spans[fVigil]; sp.typ != jNone {
		h.Vigil = d.b[sp.start:sp.end:sp.end]
		if sp.typ == jString {
			h.Vigil = d.b[sp.start-1 : sp.end+1 : sp.end+1]
		}
	}
	return nil
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (d *Decoder) ws(i int) int {
	for i < len(d.b) && isWS(d.b[i]) {
		i++
	}
	return i
}

func (d *Decoder) errAt(i int, format string, a ...any) error {
	return &syntaxError{off: i, msg: fmt.Sprintf(format, a...)}
}

func (d *Decoder) unexpected(i int, what string) error {
	if i >= len(d.b) {
		return d.errAt(i, "unexpected end of line, want %s", what)
	}
	return d.errAt(i, "unexpected %q, want %s", d.b[i], what)
}

// object scans the top-level object, validating all of it, and records the
// spans of the known members (the last occurrence of a duplicated name
// wins, as when decoding into a map).
func (d *Decoder) object() error {
	_, err := d.objectMembers()
	return err
}

// objectMembers is object, also counting the members.
func (d *Decoder) objectMembers() (int, error) {
	members := 0
	i := d.ws(0)
	if i < len(d.b) && d.b[i] == 'n' {
		end, _, err := d.value(i, 0)
		if err != nil {
			return 0, err
		}
		if j := d.ws(end); j < len(d.b) {
			return 0, d.unexpected(j, "end of line")
		}
		return 0, errors.New("message is not a JSON object")
	}
	if i >= len(d.b) || d.b[i] != '{' {
		return 0, d.unexpected(i, "'{'")
	}
	i = d.ws(i + 1)
	if i < len(d.b) && d.b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(d.b) || d.b[i] != '"' {
				return 0, d.unexpected(i, "a member name")
			}
			members++
			n := len(d.text)
			kEnd, decoded, err := d.str(i, true)
			if err != nil {
				return 0, err
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
				return 0, d.unexpected(i, "':'")
			}
			i = d.ws(i + 1)
			var sp span
			if i < len(d.b) && d.b[i] == '"' {
				// Known members are decoded as they are validated: one
				// pass over the bulk of the line, the recorded text.
				sp.dstart = len(d.text)
				sp.end, sp.decoded, err = d.str(i, f >= 0 && (!d.scan || f == fRec || f == fHost))
				sp.start, sp.typ, sp.dend = i+1, jString, len(d.text)
			} else {
				sp.start = i
				sp.end, sp.typ, err = d.value(i, 1)
			}
			if err != nil {
				return 0, err
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
			return 0, d.unexpected(i, "',' or '}'")
		}
	}
	if j := d.ws(i); j < len(d.b) {
		return 0, d.unexpected(j, "end of line")
	}
	return members, nil
}

// value validates the JSON value at i and returns its end and type.
func (d *Decoder) value(i, depth int) (int, jtype, error) {
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

func (d *Decoder) literal(i int, lit string, t jtype) (int, jtype, error) {
	if len(d.b)-i < len(lit) || string(d.b[i:i+len(lit)]) != lit {
		return i, jNone, d.errAt(i, "invalid literal, want %s", lit)
	}
	return i + len(lit), t, nil
}

// container validates an object or array starting at i.
func (d *Decoder) container(i, depth int) (int, error) {
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
func (d *Decoder) number(i int) (int, jtype, error) {
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
func (d *Decoder) str(i int, dec bool) (end int, decoded bool, err error) {
	if !dec {
		end, err = d.skipStr(i)
		return end, false, err
	}
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

// skipStr is str without decoding: it only validates. Bytes above 0x7f
// need no look (invalid UTF-8 is valid JSON, decoded as U+FFFD), nor do
// the values of \u escapes, so the scan stops only at quotes, backslashes
// and control characters.
func (d *Decoder) skipStr(i int) (int, error) {
	b := d.b
	for i++; ; {
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !strStop[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, d.errAt(i, "unterminated string")
		}
		switch c := b[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i + 1, d.errAt(i+1, "unterminated string")
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex4(b[i+2:i+6]) {
					return i + 1, d.errAt(i+1, `invalid \u escape`)
				}
				i += 6
			default:
				return i + 1, d.errAt(i+1, "invalid escape %q", e)
			}
		default:
			return i, d.errAt(i, "control character %#02x in string", c)
		}
	}
}

// strStop marks the bytes a string scan stops at.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

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
func (d *Decoder) get(f int, required bool, types ...jtype) (span, bool, error) {
	sp := d.spans[f]
	if sp.typ == jNone {
		if required {
			return sp, false, &FieldError{Field: fieldNames[f], Reason: "missing"}
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
func (d *Decoder) strBytes(sp span) []byte {
	if sp.decoded {
		return d.text[sp.dstart:sp.dend:sp.dend]
	}
	return d.b[sp.start:sp.end]
}

// strField decodes a string field into *dst, keeping *dst when it already
// holds the same text.
func (d *Decoder) strField(f int, required bool, dst *string) error {
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
func (d *Decoder) intField(f int, lo, hi int64) (int64, error) {
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

// fields checks and converts the members in json_msg.c's order.
func (d *Decoder) fields(m *Message) error {
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
	if m.Major, m.Minor, err = ParseVer(m.Ver); err != nil {
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
	if n, err = d.intField(fPos, 0, MaxDelayMs); err != nil {
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
		// json_msg.c checks in_txt, in_bin, out_txt, out_bin in turn.
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
func (d *Decoder) timeField() (time.Time, error) {
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
		// Exponent forms: fall back to the float value.
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
func (d *Decoder) binField(f int) ([]byte, error) {
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
// time merge into one event.
func (d *Decoder) timing(evs []Event, tm []byte, t time.Duration, txt [2][]byte, bin [2][]byte) ([]Event, error) {
	d.data, d.ends = d.data[:0], d.ends[:0]
	for i := 0; ; {
		r, next, done, err := NextTimingRecord(tm, i)
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
			evs = append(evs, Event{Kind: KindWindow, T: t, Cols: int(a), Rows: int(b)})
			d.ends = append(d.ends, len(d.data))
			continue
		}
		si, kind := 0, KindIn
		if typ == '>' || typ == ']' {
			si, kind = 1, KindOut
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
			evs = append(evs, Event{Kind: kind, T: t})
			d.ends = append(d.ends, len(d.data))
		}
	}
	// Point the events at their data only now: d.data may have moved.
	start := 0
	for k := range evs {
		if evs[k].Kind != KindWindow {
			evs[k].Data = d.data[start:d.ends[k]:d.ends[k]]
		} else {
			evs[k].Data = nil
		}
		start = d.ends[k]
	}
	return evs, nil
}
