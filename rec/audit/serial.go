package audit

import "bytes"

// serialWindow is how many serials the tracker holds open (a bitmap):
// records of concurrent events interleave, but never this far apart.
const serialWindow = 1 << 14

// serialTracker counts audit serial numbers that never arrived. It sees
// every record's serial (not only the exec events' the reassembler gets),
// and judges a missing serial lost once a check period has passed since a
// later one arrived, or once it falls out of the window.
type serialTracker struct {
	started bool
	base    uint32 // serials before base are judged
	max     uint32 // highest serial seen
	mark    uint32 // max at the previous check
	marked  bool
	seen    [serialWindow / 64]uint64
	lost    uint64
}

func (s *serialTracker) bit(n uint32) (int, uint64) {
	i := n % serialWindow
	return int(i / 64), 1 << (i % 64)
}

// see records a serial.
func (s *serialTracker) see(n uint32) {
	if !s.started {
		s.started, s.base, s.max = true, n, n
	}
	if int32(n-s.base) < 0 {
		return // already judged (a late record of a counted serial)
	}
	if int32(n-s.max) > 0 {
		s.max = n
	}
	// Keep the window (judge what falls out of it) before n takes its
	// bit, which an old serial may share.
	for s.max-s.base >= serialWindow {
		s.judge()
	}
	w, b := s.bit(n)
	s.seen[w] |= b
}

// judge settles serial base and moves on.
func (s *serialTracker) judge() {
	w, b := s.bit(s.base)
	if s.seen[w]&b == 0 {
		s.lost++
	}
	s.seen[w] &^= b
	s.base++
}

// check runs periodically: serials up to the previous check's highest
// that have still not arrived are lost.
func (s *serialTracker) check() {
	if !s.started {
		return
	}
	if s.marked {
		for int32(s.mark-s.base) >= 0 {
			s.judge()
		}
	}
	s.mark, s.marked = s.max, true
}

// recordSerial reads the serial from a record's "audit(sec.ms:serial):"
// header.
func recordSerial(data []byte) (uint32, bool) {
	h := data[:min(len(data), 64)] // the header is at the start
	i := bytes.IndexByte(h, ':')
	if i < 0 || !bytes.HasPrefix(h, []byte("audit(")) {
		return 0, false
	}
	var n uint64
	digits := 0
	for _, c := range h[i+1:] {
		if c == ')' {
			return uint32(n), digits > 0 && n <= 1<<32-1
		}
		if c < '0' || c > '9' || digits == 10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		digits++
	}
	return 0, false
}
