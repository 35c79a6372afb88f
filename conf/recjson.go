package conf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MergeJSON overlays the keys set in text, a JSON object with tlog's nested
// schema (e.g. {"log":{"input":true},"limit":{"rate":100}}). As json-c
// reads tlog's files, "//" and "/* */" comments and one trailing comma
// before "}" or "]" are allowed (Debian's /etc/tlog/*.conf have both). name (e.g. "VIGIL_REC_CONF") names
// the source in errors.
func (r *Rec) MergeJSON(name string, text string) error {
	src, err := stripComments(text)
	if err != nil {
		return &Error{File: name, Line: lineAt(text, err.off), Msg: err.msg}
	}
	p := jsonParser{name: name, text: text, dec: json.NewDecoder(strings.NewReader(src))}
	p.dec.UseNumber()
	// Merge into a copy so that a bad text leaves r untouched.
	merged := *r
	if err := p.document(&merged); err != nil {
		return err
	}
	*r = merged
	return nil
}

type jsonParser struct {
	name string
	text string // original text, for line numbers (offsets equal src's)
	dec  *json.Decoder
}

// errorAt locates a message at the byte offset off.
func (p *jsonParser) errorAt(off int64, key, format string, args ...any) *Error {
	return &Error{File: p.name, Line: lineAt(p.text, int(off)), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// token reads the next token, turning decoder errors into located ones.
func (p *jsonParser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err == nil {
		return t, nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, p.errorAt(se.Offset, "", "%s", se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, p.errorAt(int64(len(p.text)), "", "unexpected end of JSON text")
	}
	return nil, p.errorAt(p.dec.InputOffset(), "", "%s", err.Error())
}

func (p *jsonParser) document(r *Rec) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t != json.Delim('{') {
		return p.errorAt(p.dec.InputOffset(), "", "must be a JSON object (got %s)", jsonType(t))
	}
	if err := p.object(r, ""); err != nil {
		return err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return p.errorAt(p.dec.InputOffset(), "", "unexpected data after the JSON object")
	}
	return nil
}

// object reads the members of an object whose '{' was read; prefix is ""
// at the top level or "table." inside a table.
func (p *jsonParser) object(r *Rec, prefix string) error {
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return err
		}
		// Keys hold no raw newlines, so the key's end is on the key's line.
		at := origin{file: p.name, line: lineAt(p.text, int(p.dec.InputOffset())-1)}
		key := prefix + t.(string)
		t, err = p.token()
		if err != nil {
			return err
		}
		i, isField := fieldIndex[key]
		switch {
		case prefix == "" && recTables[key]:
			if t != json.Delim('{') {
				return at.errorf(key, "must be an object (got %s)", jsonType(t))
			}
			if err := p.object(r, key+"."); err != nil {
				return err
			}
		case isField:
			v, why := jsonValue(recFields[i].kind, t)
			if why != "" {
				return at.errorf(key, "%s", why)
			}
			if err := r.set(i, v, at); err != nil {
				return err
			}
		default:
			return at.errorf(key, "unknown key")
		}
	}
	_, err := p.token() // the closing '}'
	return err
}

// jsonValue converts a scalar token to the Go value of kind k, or says why
// it cannot.
func jsonValue(k kind, t json.Token) (any, string) {
	switch v := t.(type) {
	case bool:
		if k == kindBool {
			return v, ""
		}
	case string:
		if k == kindString {
			return v, ""
		}
	case json.Number:
		if k == kindInt {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				if errors.Is(err, strconv.ErrRange) {
					return nil, fmt.Sprintf("integer out of range (got %s)", v)
				}
				return nil, fmt.Sprintf("must be an integer (got %s)", v)
			}
			return n, ""
		}
	}
	return nil, fmt.Sprintf("must be %s (got %s)", k, jsonType(t))
}

func jsonType(t json.Token) string {
	switch t.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case nil:
		return "null"
	}
	if t == json.Delim('[') {
		return "array"
	}
	return "object"
}

// commentError is a comment that does not end.
type commentError struct {
	off int
	msg string
}

// stripComments replaces "//" and "/* */" comments outside strings and
// trailing commas with spaces, keeping newlines, so byte offsets and lines
// stay those of text.
func stripComments(text string) (string, *commentError) {
	b := []byte(text)
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return "", &commentError{off: i, msg: "unterminated /* comment"}
			}
			for j := i; j < i+2+end+2; j++ {
				if b[j] != '\n' {
					b[j] = ' '
				}
			}
			i += 2 + end + 1
		}
	}
	dropTrailingCommas(b)
	return string(b), nil
}

// dropTrailingCommas blanks a comma that only whitespace separates from the
// "}" or "]" after it, outside strings; offsets stay the same.
func dropTrailingCommas(b []byte) {
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ',':
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
				j++
			}
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				b[i] = ' '
			}
		}
	}
}

// lineAt returns the 1-based line of byte offset off in text.
func lineAt(text string, off int) int {
	off = max(0, min(off, len(text)))
	return strings.Count(text[:off], "\n") + 1
}
