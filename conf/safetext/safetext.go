// Package safetext makes text from recordings safe to show on the
// auditor's terminal.
//
// What vigil-play prints for people goes to the auditor's terminal, and
// much of it comes from recordings, which the recorded user wrote: user,
// host and terminal names, recording ids, file names, screen lines, and
// error messages quoting any of them. Each is made printable first, so
// that none of it can move the cursor, change the title, answer queries,
// reach the clipboard or hide text behind bidirectional overrides.
package safetext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Printable returns s with every character that is not printable (C0 and
// C1 controls, DEL, format characters such as bidi overrides and zero
// width spaces, spaces other than U+0020) and every byte that is not
// UTF-8 written as a Go escape: \x1b, \t, \u202e, \xff.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPrintable(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isPrintable(r, n):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

func isPrintable(r rune, n int) bool {
	if r < utf8.RuneSelf {
		return r >= ' ' && r < 0x7f
	}
	return (r != utf8.RuneError || n > 1) && unicode.IsPrint(r)
}

// AppendJSON appends v as a line of JSON that is safe on a terminal:
// encoding/json escapes C0 controls but writes DEL, the C1 controls
// (U+0080-U+009F, which terminals obey) and the other characters Printable
// leaves out as they are; here they are \u escapes, which decode to the
// same strings.
func AppendJSON(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	for {
		i := bytes.IndexFunc(j, func(r rune) bool { return r >= 0x7f && !isPrintable(r, 2) })
		if i < 0 {
			break
		}
		r, n := utf8.DecodeRune(j[i:])
		b = append(b, j[:i]...)
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			b = fmt.Appendf(b, `\u%04x\u%04x`, r1, r2)
		} else {
			b = fmt.Appendf(b, `\u%04x`, r)
		}
		j = j[i+n:]
	}
	return append(append(b, j...), '\n'), nil
}
