package tlog

import (
	"math"
	"time"
)

// Limits of tlog's timing values (TLOG_DELAY_MAX_MS_NUM and the window
// dimension type).
const (
	MaxDelayMs = 2147483647999
	MaxWindow  = 65535
)

// TimingRecord is one record of a message's timing program (spec 1.4).
type TimingRecord struct {
	Op byte // '+' delay, '=' window, '<' '>' text, '[' ']' binary
	// A and B: '+' milliseconds; '=' columns, rows; '<' '>' characters;
	// '[' ']' characters skipped, bytes taken.
	A, B uint64
}

// NextTimingRecord parses the record of tm that starts at i, after the
// whitespace tlog-play skips. It returns the index after it, or done at the
// end of the program. The Decoder and the reference decoder of its
// differential fuzz test walk timing programs with it.
func NextTimingRecord[S ~string | ~[]byte](tm S, i int) (r TimingRecord, next int, done bool, err error) {
	bad := func(format string, a ...any) error { return fieldErr("timing", "invalid value", format, a...) }
	for i < len(tm) && isSpace(tm[i]) {
		i++
	}
	if i == len(tm) {
		return r, i, true, nil
	}
	r.Op = tm[i]
	i++
	a, n := parseNum(tm[i:])
	if n == 0 {
		return r, i, false, bad("record %q at %d lacks a number", r.Op, i-1)
	}
	i += n
	r.A = a
	switch r.Op {
	case '[', ']', '=':
		sep := byte('/')
		if r.Op == '=' {
			sep = 'x'
		}
		if i >= len(tm) || tm[i] != sep {
			return r, i, false, bad("record %q at %d lacks %q", r.Op, i, sep)
		}
		i++
		if r.B, n = parseNum(tm[i:]); n == 0 {
			return r, i, false, bad("record %q at %d lacks a second number", r.Op, i)
		}
		i += n
	case '+', '<', '>':
	default:
		return r, i, false, bad("unknown record %q at %d", r.Op, i-1)
	}
	switch {
	case r.Op == '+' && r.A > MaxDelayMs:
		return r, i, false, bad("delay %d too large", r.A)
	case r.Op == '=' && (r.A > MaxWindow || r.B > MaxWindow):
		return r, i, false, bad("window %dx%d out of range", r.A, r.B)
	}
	return r, i, false, nil
}

// Delay is a '+' record's time.
func (r TimingRecord) Delay() time.Duration { return time.Duration(r.A) * time.Millisecond }

// Seconds is d in seconds, the number its milliseconds read as text
// (3736 ms: 3.736). Duration.Seconds adds the fraction to the whole seconds
// and can land just below (3.7359999999999998): a player that compares a
// recording's duration with its events' times, printed to the millisecond,
// would never reach the last one.
func Seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// Stream is 0 for input records ('<', '['), 1 for output ('>', ']').
func (r TimingRecord) Stream() int {
	if r.Op == '>' || r.Op == ']' {
		return 1
	}
	return 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// parseNum reads leading decimal digits, saturating so that huge values
// fail the range checks instead of wrapping.
func parseNum[S ~string | ~[]byte](s S) (v uint64, n int) {
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		if v <= (math.MaxUint64-9)/10 {
			v = v*10 + uint64(s[n]-'0')
		} else {
			v = math.MaxUint64
		}
		n++
	}
	return v, n
}
