package tlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
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

// Decoded is a parsed tlog JSON message.
type Decoded struct {
	Ver          string // as written ("2.3", or an integer's digits)
	Major, Minor uint64
	Host         string
	Rec          string // "" if absent
	User, Term   string
	Session      uint32
	ID           uint64
	Pos          time.Duration
	Time         time.Time // zero if the optional "time" is absent
	Timing       string
	InTxt        string
	InBin        []byte // elements up to the first that is not an int 0..255
	OutTxt       string
	OutBin       []byte
	Events       []Event
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

// jsonType classifies a raw JSON value the way json-c types it.
func jsonType(v json.RawMessage) string {
	if len(v) == 0 {
		return "none"
	}
	switch v[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if bytes.ContainsAny(v, ".eE") {
		return "double"
	}
	return "int"
}

// ParseMessage parses one tlog JSON message line (with or without the
// trailing newline) with tlog-play's rules: required fields and types as in
// json_msg.c, unknown fields ignored, ver "MAJOR[.MINOR]" as string or
// integer with MAJOR <= 2, and the timing decoded into events.
func ParseMessage(line []byte) (*Decoded, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, fmt.Errorf("tlog: invalid message JSON: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("tlog: message is not a JSON object")
	}
	d := &Decoded{}
	f := fields{obj}

	ver, typ, err := f.get("ver", true, "string", "int")
	if err != nil {
		return nil, err
	}
	if typ == "string" {
		if err := json.Unmarshal(ver, &d.Ver); err != nil {
			return nil, fieldErr("ver", "invalid value", "%v", err)
		}
	} else {
		d.Ver = string(ver)
	}
	if d.Major, d.Minor, err = ParseVer(d.Ver); err != nil {
		return nil, err
	}
	if err := f.str("host", true, &d.Host); err != nil {
		return nil, err
	}
	if err := f.str("rec", false, &d.Rec); err != nil {
		return nil, err
	}
	if err := f.str("user", true, &d.User); err != nil {
		return nil, err
	}
	if err := f.str("term", true, &d.Term); err != nil {
		return nil, err
	}
	n, err := f.int("session", 1, math.MaxUint32)
	if err != nil {
		return nil, err
	}
	d.Session = uint32(n)
	if n, err = f.int("id", 0, math.MaxInt64); err != nil {
		return nil, err
	}
	d.ID = uint64(n)
	if n, err = f.int("pos", 0, MaxDelayMs); err != nil {
		return nil, err
	}
	d.Pos = time.Duration(n) * time.Millisecond
	if err := f.time(&d.Time); err != nil {
		return nil, err
	}
	if err := f.str("timing", true, &d.Timing); err != nil {
		return nil, err
	}
	if err := f.str("in_txt", false, &d.InTxt); err != nil {
		return nil, err
	}
	if d.InBin, err = f.bin("in_bin"); err != nil {
		return nil, err
	}
	if err := f.str("out_txt", false, &d.OutTxt); err != nil {
		return nil, err
	}
	if d.OutBin, err = f.bin("out_bin"); err != nil {
		return nil, err
	}
	if d.Events, err = decodeTiming(d); err != nil {
		return nil, err
	}
	return d, nil
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

// fields reads typed fields out of a parsed object.
type fields struct{ obj map[string]json.RawMessage }

// get returns a field's raw value and type; absent optional fields give nil.
func (f fields) get(name string, required bool, types ...string) (json.RawMessage, string, error) {
	v, ok := f.obj[name]
	if !ok {
		if required {
			return nil, "", &FieldError{Field: name, Reason: "missing"}
		}
		return nil, "", nil
	}
	t := jsonType(v)
	for _, want := range types {
		if t == want {
			return v, t, nil
		}
	}
	return nil, "", fieldErr(name, "invalid type", "%s, want %s", t, types[0])
}

func (f fields) str(name string, required bool, dst *string) error {
	v, _, err := f.get(name, required, "string")
	if err != nil || v == nil {
		return err
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fieldErr(name, "invalid value", "%v", err)
	}
	return nil
}

func (f fields) int(name string, lo, hi int64) (int64, error) {
	v, _, err := f.get(name, true, "int")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fieldErr(name, "invalid value", "%s not in %d..%d", v, lo, hi)
	}
	return n, nil
}

// time parses the optional "time" as seconds.milliseconds, like tlog's
// sscanf("%ld.%03ld"): the fraction's first three digits are milliseconds.
func (f fields) time(dst *time.Time) error {
	v, _, err := f.get("time", false, "double")
	if err != nil || v == nil {
		return err
	}
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil || x < 0 || math.IsInf(x, 0) {
		return fieldErr("time", "invalid value", "%s", v)
	}
	s := string(v)
	secStr, frac, _ := bytes.Cut([]byte(s), []byte("."))
	sec, err := strconv.ParseInt(string(secStr), 10, 64)
	if err != nil {
		// Exponent forms: fall back to the float value.
		*dst = time.UnixMilli(int64(x * 1000))
		return nil
	}
	ms := 0
	for i := 0; i < 3; i++ {
		ms *= 10
		if i < len(frac) && frac[i] >= '0' && frac[i] <= '9' {
			ms += int(frac[i] - '0')
		}
	}
	*dst = time.Unix(sec, int64(ms)*int64(time.Millisecond))
	return nil
}

// bin reads a required byte array, returning its elements up to the first
// one that is not an integer 0..255.
func (f fields) bin(name string) ([]byte, error) {
	v, _, err := f.get(name, true, "array")
	if err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(v, &elems); err != nil {
		return nil, fieldErr(name, "invalid value", "%v", err)
	}
	out := make([]byte, 0, len(elems))
	for _, el := range elems {
		n, err := strconv.ParseInt(string(el), 10, 64)
		if jsonType(el) != "int" || err != nil || n < 0 || n > 255 {
			// tlog only checks the elements the timing uses: keep the
			// valid prefix and let the timing fail if it needs more.
			break
		}
		out = append(out, byte(n))
	}
	return out, nil
}

// decodeTiming walks the timing program (json_msg.c tlog_json_msg_read).
func decodeTiming(d *Decoded) ([]Event, error) {
	var evs []Event
	tm := d.Timing
	t := d.Pos
	txt := [2]string{d.InTxt, d.OutTxt}
	bin := [2][]byte{d.InBin, d.OutBin}
	for i := 0; ; {
		r, next, done, err := NextTimingRecord(tm, i)
		if err != nil {
			return nil, err
		}
		if done {
			return evs, nil
		}
		i = next
		a, b, typ := r.A, r.B, r.Op
		switch typ {
		case '+':
			t += r.Delay()
			continue
		case '=':
			evs = append(evs, Event{Kind: KindWindow, T: t, Cols: int(a), Rows: int(b)})
			continue
		}
		si, kind := 0, KindIn
		if typ == '>' || typ == ']' {
			si, kind = 1, KindOut
		}
		var data []byte
		if typ == '<' || typ == '>' {
			var ok bool
			if data, txt[si], ok = takeChars(txt[si], a); !ok {
				return nil, fieldErr(txtField(si), "invalid value", "timing wants %d more characters", a)
			}
		} else {
			var ok bool
			if _, txt[si], ok = takeChars(txt[si], a); !ok {
				return nil, fieldErr(txtField(si), "invalid value", "timing wants %d more characters", a)
			}
			if uint64(len(bin[si])) < b {
				return nil, fieldErr(binField(si), "invalid value", "timing wants %d more bytes, %d valid left", b, len(bin[si]))
			}
			data, bin[si] = bin[si][:b], bin[si][b:]
		}
		if len(data) == 0 {
			continue
		}
		if k := len(evs) - 1; k >= 0 && evs[k].Kind == kind && evs[k].T == t {
			evs[k].Data = append(evs[k].Data, data...)
		} else {
			evs = append(evs, Event{Kind: kind, T: t, Data: append([]byte(nil), data...)})
		}
	}
}

func txtField(si int) string { return [2]string{"in_txt", "out_txt"}[si] }
func binField(si int) string { return [2]string{"in_bin", "out_bin"}[si] }

// takeChars splits off the first n code points of s.
func takeChars(s string, n uint64) ([]byte, string, bool) {
	i := 0
	for ; n > 0; n-- {
		if i >= len(s) {
			return nil, s, false
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return []byte(s[:i]), s[i:], true
}
