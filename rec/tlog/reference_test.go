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

// This is the reference decoder for the differential fuzz test
// FuzzDecodeMatchesParseMessage: the plain encoding/json reading of a tlog
// message that the fast Decoder must match (acceptance, first failing
// field, values and events).

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
func ParseMessage(line []byte) (*Message, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, fmt.Errorf("tlog: invalid message JSON: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("tlog: message is not a JSON object")
	}
	d := &Message{}
	var timing, inTxt, outTxt string
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
	if err := f.str("timing", true, &timing); err != nil {
		return nil, err
	}
	if err := f.str("in_txt", false, &inTxt); err != nil {
		return nil, err
	}
	if d.InBin, err = f.bin("in_bin"); err != nil {
		return nil, err
	}
	if err := f.str("out_txt", false, &outTxt); err != nil {
		return nil, err
	}
	if d.OutBin, err = f.bin("out_bin"); err != nil {
		return nil, err
	}
	d.Timing, d.InTxt, d.OutTxt = []byte(timing), []byte(inTxt), []byte(outTxt)
	if d.Events, err = decodeTiming(timing, d.Pos, [2]string{inTxt, outTxt}, [2][]byte{d.InBin, d.OutBin}); err != nil {
		return nil, err
	}
	if v := obj["vigil"]; jsonType(v) == "object" {
		d.Vigil = v
	}
	return d, nil
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
func decodeTiming(tm string, t time.Duration, txt [2]string, bin [2][]byte) ([]Event, error) {
	var evs []Event
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
			if data, txt[si], ok = refTakeChars(txt[si], a); !ok {
				return nil, fieldErr(refTxtField(si), "invalid value", "timing wants %d more characters", a)
			}
		} else {
			var ok bool
			if _, txt[si], ok = refTakeChars(txt[si], a); !ok {
				return nil, fieldErr(refTxtField(si), "invalid value", "timing wants %d more characters", a)
			}
			if uint64(len(bin[si])) < b {
				return nil, fieldErr(refBinField(si), "invalid value", "timing wants %d more bytes, %d valid left", b, len(bin[si]))
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

func refTxtField(si int) string { return [2]string{"in_txt", "out_txt"}[si] }
func refBinField(si int) string { return [2]string{"in_bin", "out_bin"}[si] }

// refTakeChars splits off the first n code points of s.
func refTakeChars(s string, n uint64) ([]byte, string, bool) {
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

// scanReference is what Scan must match: the line decoded into a map of raw
// values, then "rec" into a string and "id" into a uint64, as rec/verify
// read lines before Scan.
func scanReference(line []byte) (h Head, distinct int, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return h, 0, err
	}
	if obj == nil {
		return h, 0, fmt.Errorf("not a JSON object")
	}
	if v, ok := obj["rec"]; ok {
		if err := json.Unmarshal(v, &h.Rec); err != nil {
			return h, 0, fmt.Errorf("rec: %w", err)
		}
	}
	if v, ok := obj["id"]; ok {
		if err := json.Unmarshal(v, &h.ID); err != nil {
			return h, 0, fmt.Errorf("id: %w", err)
		}
	}
	if v, ok := obj["host"]; ok {
		// Any other type reads as no host.
		_ = json.Unmarshal(v, &h.Host)
	}
	h.Vigil = obj["vigil"]
	return h, len(obj), nil
}
