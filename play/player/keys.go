package player

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// actionKind is what a key asks for.
type actionKind uint8

const (
	actQuit   actionKind = iota + 1 // q
	actPause                        // space or p: pause/resume
	actStep                         // .: write the next event now
	actFaster                       // }: double the speed
	actSlower                       // {: halve the speed
	actNormal                       // backspace: speed 1
	actGoto                         // G, after digits and colons or alone (end)
	actSeek                         // ← or →: go back or forward by delta
)

// SeekStep is how far ← and → go.
const SeekStep = 5 * time.Second

type action struct {
	kind   actionKind
	target Target        // actGoto
	delta  time.Duration // actSeek
}

// maxTyped bounds the digits typed before G: no valid time is longer.
const maxTyped = 24

// keyState is where the parser is in an escape sequence coming from the
// terminal (a reply to a query, a function key, a mouse report): their
// bytes are not keys.
type keyState uint8

const (
	ksNormal    keyState = iota
	ksEsc                // after ESC
	ksCSI                // in ESC [ ... up to a final byte
	ksSS3                // after ESC O: one more byte
	ksString             // in OSC/DCS/SOS/PM/APC, up to BEL or ST
	ksStringEsc          // ESC inside a string: ST if '\' follows
	ksMouse              // X10 mouse report: three raw bytes after ESC [ M
)

// keyParser turns typed bytes into actions; its state carries over between
// reads, since a sequence may be split.
type keyParser struct {
	state  keyState
	csiLen int // bytes of the current CSI after ESC [
	mouse  int // mouse bytes still to skip
	typed  []byte
}

func (k *keyParser) feed(b []byte) []action {
	var acts []action
	for _, c := range b {
		if a, ok := k.byte(c); ok {
			acts = append(acts, a)
		}
	}
	return acts
}

func (k *keyParser) byte(c byte) (action, bool) {
	switch k.state {
	case ksEsc:
		switch c {
		case '[':
			k.state, k.csiLen = ksCSI, 0
		case 'O':
			k.state = ksSS3
		case ']', 'P', 'X', '^', '_':
			k.state = ksString
		default:
			// ESC and one character (Alt+key): neither is a key.
			k.state = ksNormal
		}
		return action{}, false
	case ksCSI:
		k.csiLen++
		if c >= 0x40 && c <= 0x7e {
			k.state = ksNormal
			if c == 'M' && k.csiLen == 1 {
				k.state, k.mouse = ksMouse, 3
			}
			if k.csiLen == 1 {
				return arrow(c)
			}
		}
		return action{}, false
	case ksSS3:
		// Arrow keys send ESC O C and ESC O D in application cursor mode.
		k.state = ksNormal
		return arrow(c)
	case ksString:
		switch c {
		case 0x07:
			k.state = ksNormal
		case 0x1b:
			k.state = ksStringEsc
		}
		return action{}, false
	case ksStringEsc:
		k.state = ksString
		if c == '\\' {
			k.state = ksNormal
		}
		return action{}, false
	case ksMouse:
		if k.mouse--; k.mouse == 0 {
			k.state = ksNormal
		}
		return action{}, false
	}
	if (c >= '0' && c <= '9') || c == ':' {
		if len(k.typed) < maxTyped {
			k.typed = append(k.typed, c)
		}
		return action{}, false
	}
	typed := k.typed
	k.typed = k.typed[:0]
	switch c {
	case 0x1b:
		k.state = ksEsc
	case 'q':
		return action{kind: actQuit}, true
	case ' ', 'p':
		return action{kind: actPause}, true
	case '.':
		return action{kind: actStep}, true
	case '}':
		return action{kind: actFaster}, true
	case '{':
		return action{kind: actSlower}, true
	case 0x7f, 0x08:
		return action{kind: actNormal}, true
	case 'G':
		if len(typed) == 0 {
			return action{kind: actGoto, target: Target{End: true}}, true
		}
		if t, err := ParseTime(string(typed)); err == nil {
			return action{kind: actGoto, target: Target{T: t}}, true
		}
	}
	return action{}, false
}

// arrow is the action of the final byte of an arrow key's sequence
// (ESC [ C, or ESC O C): → and ← seek; other keys and replies do nothing.
func arrow(c byte) (action, bool) {
	switch c {
	case 'C':
		return action{kind: actSeek, delta: SeekStep}, true
	case 'D':
		return action{kind: actSeek, delta: -SeekStep}, true
	}
	return action{}, false
}

// ParseTarget parses a --goto value: "start", "end" or a time (ParseTime).
func ParseTarget(s string) (Target, error) {
	switch s {
	case "start":
		return Target{}, nil
	case "end":
		return Target{End: true}, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return Target{}, err
	}
	return Target{T: t}, nil
}

// maxTime keeps parsed times far from time.Duration's overflow.
const maxTime = 100_000 * time.Hour

// ParseTime parses tlog-play's [[HH:]MM:]SS[.fff], where any component may
// be empty: "2.5" is 2.5 s, "30:" 30 min, "2::" 2 h, "1:02:03.5".
func ParseTime(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("bad time %q (want start, end or [[HH:]MM:]SS[.fff]): %s", s, why)
	}
	parts := strings.Split(s, ":")
	if s == "" {
		return bad("empty")
	}
	if len(parts) > 3 {
		return bad("more than two colons")
	}
	var total time.Duration
	units := []time.Duration{time.Hour, time.Minute}[3-len(parts):]
	for i, p := range parts[:len(parts)-1] {
		if p == "" {
			continue
		}
		if len(p) > 9 || strings.Trim(p, "0123456789") != "" {
			return bad("not a number: " + p)
		}
		n, _ := strconv.Atoi(p) // at most 9 digits
		total += time.Duration(n) * units[i]
	}
	if sec := parts[len(parts)-1]; sec != "" {
		whole, frac, hasFrac := strings.Cut(sec, ".")
		if (whole == "" && (!hasFrac || frac == "")) || len(whole) > 12 || strings.Trim(whole, "0123456789") != "" ||
			strings.Trim(frac, "0123456789") != "" {
			return bad("not a number of seconds: " + sec)
		}
		n, _ := strconv.Atoi("0" + whole) // at most 12 digits
		total += time.Duration(n) * time.Second
		if len(frac) > 9 {
			frac = frac[:9]
		}
		if frac != "" {
			f, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
			total += time.Duration(f)
		}
	}
	if total > maxTime {
		return bad("too far")
	}
	return total, nil
}
