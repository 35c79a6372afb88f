package audit

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Records are parsed here rather than with auparse's Data(): that runs
// regular expressions over every record (too slow for thousands of execs a
// second) and cannot read the split form of long arguments (a1[0]=...), so
// it fails on exactly the EXECVE records that matter most.

// recordBody returns what follows the "audit(sec.ms:serial): " header.
func recordBody(raw string) string {
	if i := strings.Index(raw, "): "); i >= 0 {
		return raw[i+3:]
	}
	if i := strings.Index(raw, "):"); i >= 0 {
		return raw[i+2:]
	}
	return raw
}

// eachField calls fn for every key=value of a kernel record body. The
// kernel quotes a string value only when it holds no space, quote, control
// or non-ASCII byte; every other string is written as unquoted upper-case
// hex. Numbers and words such as (null) are unquoted too.
func eachField(s string, fn func(key, val string, quoted bool)) {
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return
		}
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq < 0 {
			return
		}
		if sp >= 0 && sp < eq { // a word without a value
			s = s[sp:]
			continue
		}
		key := s[:eq]
		s = s[eq+1:]
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				fn(key, s[1:], true)
				return
			}
			fn(key, s[1:1+end], true)
			s = s[2+end:]
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			fn(key, s, false)
			return
		}
		fn(key, s[:end], false)
		s = s[end:]
	}
}

// decodeString returns a string field's value: quoted as is, unquoted as
// hex. ok is false for the kernel's "no value" markers.
func decodeString(val string, quoted bool) (string, bool) {
	if quoted {
		return val, true
	}
	switch val {
	case "", "(null)", "?", "(none)":
		return "", false
	}
	if b, err := hex.DecodeString(val); err == nil {
		return string(b), true
	}
	return val, true // not hex: a plain word
}

// argChunk is one piece of an argument the kernel split (aN[i]=).
type argChunk struct {
	val    string
	logged int // characters it took in the log, what aN_len counts
}

// execveArgs rebuilds argv from the EXECVE records of one event. Arguments
// come as aN="text" or aN=HEX, or, when one does not fit in the record
// (always above 7,500 bytes, and forced to hex then), as aN_len=LEN
// followed by aN[0]=..., aN[1]=... possibly across several EXECVE records.
type execveArgs struct {
	argc     int
	haveArgc bool
	whole    map[int]string
	chunks   map[int]map[int]argChunk
	lens     map[int]int
	bad      []string
}

func (a *execveArgs) add(body string) {
	eachField(body, func(key, val string, quoted bool) {
		if key == "argc" {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				a.bad = append(a.bad, fmt.Sprintf("bad argc %q", val))
				return
			}
			a.argc, a.haveArgc = n, true
			return
		}
		n, kind, idx, ok := parseArgKey(key)
		if !ok {
			return
		}
		s, ok := decodeString(val, quoted)
		if !ok {
			a.bad = append(a.bad, fmt.Sprintf("argument %d logged as %q", n, val))
		}
		switch kind {
		case argWhole:
			if a.whole == nil {
				a.whole = make(map[int]string)
			}
			a.whole[n] = s
		case argLen:
			if a.lens == nil {
				a.lens = make(map[int]int)
			}
			l, err := strconv.Atoi(val)
			if err != nil {
				a.bad = append(a.bad, fmt.Sprintf("bad a%d_len %q", n, val))
				return
			}
			a.lens[n] = l
		case argPart:
			if a.chunks == nil {
				a.chunks = make(map[int]map[int]argChunk)
			}
			if a.chunks[n] == nil {
				a.chunks[n] = make(map[int]argChunk)
			}
			a.chunks[n][idx] = argChunk{val: s, logged: len(val)}
		}
	})
}

// argv returns the arguments and what is missing from them; a missing or
// truncated argument is left empty (or partial) and named in problems.
func (a *execveArgs) argv() (argv []string, problems []string) {
	problems = append(problems, a.bad...)
	if !a.haveArgc {
		return nil, append(problems, "EXECVE record without argc (its first record was lost)")
	}
	argv = make([]string, a.argc)
	for i := range argv {
		if s, ok := a.whole[i]; ok {
			argv[i] = s
			continue
		}
		parts, ok := a.chunks[i]
		if !ok {
			problems = append(problems, fmt.Sprintf("argument %d missing", i))
			continue
		}
		idx := make([]int, 0, len(parts))
		for k := range parts {
			idx = append(idx, k)
		}
		sort.Ints(idx)
		var b strings.Builder
		logged := 0
		for j, k := range idx {
			if k != j {
				problems = append(problems, fmt.Sprintf("argument %d: piece %d missing", i, j))
				break
			}
			b.WriteString(parts[k].val)
			logged += parts[k].logged
		}
		argv[i] = b.String()
		if want, ok := a.lens[i]; !ok {
			problems = append(problems, fmt.Sprintf("argument %d: length (a%d_len) missing", i, i))
		} else if logged != want {
			problems = append(problems, fmt.Sprintf("argument %d truncated: %d of %d logged characters", i, logged, want))
		}
	}
	for i := range a.whole {
		if i >= a.argc {
			problems = append(problems, fmt.Sprintf("argument %d beyond argc=%d", i, a.argc))
		}
	}
	return argv, problems
}

const (
	argWhole = iota // aN
	argLen          // aN_len
	argPart         // aN[i]
)

// parseArgKey reads an EXECVE key: aN, aN_len or aN[i].
func parseArgKey(key string) (n, kind, idx int, ok bool) {
	if len(key) < 2 || key[0] != 'a' {
		return 0, 0, 0, false
	}
	rest := key[1:]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, 0, 0, false
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		return 0, 0, 0, false
	}
	switch suffix := rest[end:]; {
	case suffix == "":
		return n, argWhole, 0, true
	case suffix == "_len":
		return n, argLen, 0, true
	case len(suffix) > 2 && suffix[0] == '[' && suffix[len(suffix)-1] == ']':
		i, err := strconv.Atoi(suffix[1 : len(suffix)-1])
		if err != nil || i < 0 {
			return 0, 0, 0, false
		}
		return n, argPart, i, true
	}
	return 0, 0, 0, false
}
