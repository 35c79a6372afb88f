package conf

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// decodeTOML decodes a TOML document into a tree and finds the line of
// each key (the library keeps key positions to itself); a syntax error is
// an *Error at name's line.
func decodeTOML(name string, data []byte) (map[string]any, toml.MetaData, keyLines, error) {
	src := string(data)
	var tree map[string]any
	md, err := toml.Decode(src, &tree)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, md, nil, &Error{File: name, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, md, nil, &Error{File: name, Msg: err.Error()}
	}
	return tree, md, tomlKeyLines(src), nil
}

// MergeTOML overlays the keys set in the TOML document data. name (usually
// the file's path) names the source in errors.
func (r *Rec) MergeTOML(name string, data []byte) error {
	tree, md, lines, err := decodeTOML(name, data)
	if err != nil {
		return err
	}
	merged := *r // a bad document leaves r untouched
	// Keys() lists keys in document order, so the first error is the first
	// in the file. Parents may be missing from it ("[a.b]" lists no "a"),
	// hence every prefix of a key is resolved against the schema.
	for _, key := range md.Keys() {
		for n := 1; n <= len(key); n++ {
			path := key[:n]
			dotted := strings.Join(path, ".")
			at := origin{file: name, line: lines.find(path)}
			i, isField := fieldIndex[dotted]
			switch {
			case n == 1 && recTables[dotted]:
				// Type() is "" for implicit tables ("[a.b]", "a.b = 1"): ask the tree.
				if _, ok := lookup(tree, path).(map[string]any); !ok {
					return at.errorf(dotted, "must be a table (got %s)", tomlTypeName(md.Type(path...)))
				}
				continue
			case !isField:
				return at.errorf(toml.Key(path).String(), "unknown key")
			case n < len(key):
				return at.errorf(dotted, "must be %s (got table)", recFields[i].kind)
			}
			v, ok := tomlValue(recFields[i].kind, lookup(tree, path))
			if !ok {
				return at.errorf(dotted, "must be %s (got %s)", recFields[i].kind, tomlTypeName(md.Type(path...)))
			}
			if err := merged.set(i, v, at); err != nil {
				return err
			}
		}
	}
	*r = merged
	return nil
}

// lookup returns the value at path in a decoded tree whose tables on the
// path have been checked to be tables.
func lookup(tree map[string]any, path []string) any {
	for _, k := range path[:len(path)-1] {
		tree = tree[k].(map[string]any)
	}
	return tree[path[len(path)-1]]
}

// tomlValue converts a decoded value to kind k's Go value.
func tomlValue(k kind, v any) (any, bool) {
	switch v.(type) {
	case int64:
		return v, k == kindInt
	case bool:
		return v, k == kindBool
	case string:
		return v, k == kindString
	}
	return nil, false
}

// tomlTypeName turns MetaData.Type names into TOML's own words.
func tomlTypeName(typ string) string {
	switch typ {
	case "Hash":
		return "table"
	case "ArrayHash":
		return "array of tables"
	case "Bool":
		return "boolean"
	case "Datetime", "DatetimeLocal", "DateLocal", "TimeLocal":
		return "datetime"
	}
	return strings.ToLower(typ)
}

// keyLines maps key paths (joined with NUL) to the 1-based line where the
// key first appears.
type keyLines map[string]int

// find returns the line of path, or of its longest prefix that has one
// (keys inside an inline table that the scanner could not place), or 0.
func (kl keyLines) find(path []string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := kl[strings.Join(path[:n], "\x00")]; ok {
			return l
		}
	}
	return 0
}

// tomlScanner walks a TOML document that the library has already accepted,
// noting where keys and table headers are. It only tracks structure
// (tables, keys, strings, arrays, inline tables, comments); values are
// skipped, not checked.
type tomlScanner struct {
	s      string
	i      int
	nl     []int // offsets of '\n', for offset -> line
	lines  keyLines
	header []string // current [table] or [[array]] header
	// arrays counts the elements of each array of tables seen so far (by
	// joined path); paths inside one get "#N" after the array's key, so
	// that every element's keys have their own lines.
	arrays map[string]int
}

func tomlKeyLines(src string) keyLines {
	sc := &tomlScanner{s: src, lines: keyLines{}, arrays: map[string]int{}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			sc.nl = append(sc.nl, i)
		}
	}
	for sc.skip(true); sc.i < len(sc.s); sc.skip(true) {
		start := sc.i
		if sc.s[sc.i] == '[' {
			line := sc.line()
			sc.i++
			array := sc.peek() == '['
			if array {
				sc.i++
			}
			sc.skip(false)
			sc.header = sc.element(sc.key(), array)
			sc.note(sc.header, line)
			sc.skipLine()
		} else {
			sc.keyValue(sc.header)
		}
		if sc.i == start { // never loop on input the scanner misreads
			sc.i++
		}
	}
	return sc.lines
}

// element places a header's path inside the arrays of tables it names:
// "[[rule]]" is the next "rule" "#N", "[rule.rec]" belongs to the last one.
func (sc *tomlScanner) element(path []string, array bool) []string {
	var out []string
	for n, part := range path {
		out = append(out, part)
		id := strings.Join(out, "\x00")
		count, isArray := sc.arrays[id]
		if array && n == len(path)-1 {
			sc.arrays[id] = count + 1
			count, isArray = count+1, true
		}
		if isArray {
			out = append(out, "#"+strconv.Itoa(count-1))
		}
	}
	return out
}

func (sc *tomlScanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

func (sc *tomlScanner) line() int {
	return sort.SearchInts(sc.nl, sc.i) + 1
}

// note records the line of path and of its parents not seen before.
func (sc *tomlScanner) note(path []string, line int) {
	for n := 1; n <= len(path); n++ {
		id := strings.Join(path[:n], "\x00")
		if _, ok := sc.lines[id]; !ok {
			sc.lines[id] = line
		}
	}
}

// skip skips blanks and comments, and newlines too if newlines is set.
func (sc *tomlScanner) skip(newlines bool) {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\r':
		case '\n':
			if !newlines {
				return
			}
		case '#':
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
				sc.i++
			}
			continue
		default:
			return
		}
		sc.i++
	}
}

func (sc *tomlScanner) skipLine() {
	for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
		sc.i++
	}
}

// key reads a possibly dotted key and returns its unquoted parts.
func (sc *tomlScanner) key() []string {
	var parts []string
	for {
		switch sc.peek() {
		case '"', '\'':
			raw := sc.str()
			part, err := strconv.Unquote(raw)
			if (raw[0] == '\'' || err != nil) && len(raw) >= 2 {
				// Literal keys take no escapes; Go's Unquote reads '...' as a
				// rune, so trim the quotes by hand.
				part = raw[1 : len(raw)-1]
			}
			parts = append(parts, part)
		default:
			start := sc.i
			for sc.i < len(sc.s) && isBareKeyChar(sc.s[sc.i]) {
				sc.i++
			}
			parts = append(parts, sc.s[start:sc.i])
		}
		sc.skip(false)
		if sc.peek() != '.' {
			return parts
		}
		sc.i++
		sc.skip(false)
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyValue reads "key = value" under the table prefix.
func (sc *tomlScanner) keyValue(prefix []string) {
	line := sc.line()
	path := append(append([]string(nil), prefix...), sc.key()...)
	sc.note(path, line)
	sc.skip(false)
	if sc.peek() == '=' {
		sc.i++
	}
	sc.skip(false)
	sc.value(path)
}

// value skips one value; keys of inline tables are noted under path.
func (sc *tomlScanner) value(path []string) {
	switch sc.peek() {
	case '"', '\'':
		sc.str()
	case '{', '[':
		inline := sc.peek() == '{'
		closing := byte(']')
		if inline {
			closing = '}'
		}
		sc.i++
		for sc.skip(true); sc.i < len(sc.s) && sc.s[sc.i] != closing; sc.skip(true) {
			start := sc.i
			switch {
			case sc.s[sc.i] == ',':
				sc.i++
			case inline:
				sc.keyValue(path)
			default:
				sc.value(path)
			}
			if sc.i == start {
				sc.i++
			}
		}
		sc.i++
	default:
		for sc.i < len(sc.s) && !strings.ContainsRune(" \t\r\n,]}#", rune(sc.s[sc.i])) {
			sc.i++
		}
	}
}

// str skips a basic, literal or multi-line string and returns its text
// including the quotes.
func (sc *tomlScanner) str() string {
	start, q := sc.i, sc.s[sc.i]
	delim := string(q)
	if strings.HasPrefix(sc.s[sc.i:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	sc.i += len(delim)
	for sc.i < len(sc.s) {
		if q == '"' && sc.s[sc.i] == '\\' {
			sc.i += 2
			continue
		}
		if strings.HasPrefix(sc.s[sc.i:], delim) {
			sc.i += len(delim)
			// A multi-line string may end in up to two quotes of content.
			for n := 0; len(delim) == 3 && n < 2 && sc.peek() == q; n++ {
				sc.i++
			}
			break
		}
		sc.i++
	}
	sc.i = min(sc.i, len(sc.s))
	return sc.s[start:sc.i]
}
