package tlog

// utf8Acc accumulates one UTF-8 sequence byte by byte, validating it against
// Unicode Table 3-7 (well-formed sequences only) exactly as tlog's utf8.c
// does, so that invalid input splits into the same "maximal subparts".
type utf8Acc struct {
	buf    [4]byte
	n      uint8 // bytes held
	want   uint8 // length of the sequence started by buf[0]
	lo, hi byte  // accepted range of the next byte
}

// leadInfo describes a lead byte: sequence length and the range of the
// second byte. want == 0 marks a byte that can never start a sequence.
type leadInfo struct {
	want   uint8
	lo, hi byte
}

var leadTable = func() (t [256]leadInfo) {
	for b := 0; b < 0x80; b++ {
		t[b] = leadInfo{1, 0, 0}
	}
	set := func(from, to int, want uint8, lo, hi byte) {
		for b := from; b <= to; b++ {
			t[b] = leadInfo{want, lo, hi}
		}
	}
	set(0xc2, 0xdf, 2, 0x80, 0xbf)
	set(0xe0, 0xe0, 3, 0xa0, 0xbf)
	set(0xe1, 0xec, 3, 0x80, 0xbf)
	set(0xed, 0xed, 3, 0x80, 0x9f)
	set(0xee, 0xef, 3, 0x80, 0xbf)
	set(0xf0, 0xf0, 4, 0x90, 0xbf)
	set(0xf1, 0xf3, 4, 0x80, 0xbf)
	set(0xf4, 0xf4, 4, 0x80, 0x8f)
	return t
}()

// add offers byte b to the sequence. added reports whether b became part of
// it; ended reports that the sequence is finished: complete, broken by b
// (b not added, held bytes form an invalid prefix), or b is an invalid lead
// byte (nothing held, b not added).
func (u *utf8Acc) add(b byte) (added, ended bool) {
	if u.n == 0 {
		li := leadTable[b]
		if li.want == 0 {
			return false, true
		}
		u.buf[0] = b
		u.n = 1
		u.want = li.want
		u.lo, u.hi = li.lo, li.hi
		return true, li.want == 1
	}
	if b < u.lo || b > u.hi {
		return false, true
	}
	u.buf[u.n] = b
	u.n++
	u.lo, u.hi = 0x80, 0xbf
	return true, u.n == u.want
}

// complete reports whether the held bytes form a whole valid character.
func (u *utf8Acc) complete() bool { return u.n != 0 && u.n == u.want }
