package audit

import "testing"

func TestSerialTracker(t *testing.T) {
	var s serialTracker
	for _, n := range []uint32{10, 12, 11, 11, 13, 16} { // out of order, repeated; 14, 15 missing
		s.see(n)
	}
	s.check() // marks 16: nothing judged yet
	if s.lost != 0 {
		t.Fatalf("lost %d before a check period passed", s.lost)
	}
	s.see(15) // late, but in time
	s.see(17)
	s.check() // judges up to 16
	if s.lost != 1 {
		t.Fatalf("lost %d, want 1 (14)", s.lost)
	}
	s.see(14) // too late: already counted, not un-counted
	s.check()
	if s.lost != 1 {
		t.Fatalf("lost %d after 17, want 1", s.lost)
	}
	// A jump beyond the window judges what falls out of it at once:
	// 18..117 (17 was judged by the last check).
	s.see(17 + serialWindow + 100)
	if s.lost != 101 {
		t.Fatalf("lost %d after a jump, want 101", s.lost)
	}
}

func TestSerialTrackerWraps(t *testing.T) {
	var s serialTracker
	for n := uint32(1<<32 - 3); n != 3; n++ {
		s.see(n)
	}
	s.see(4)
	s.check()
	s.see(5)
	s.check()
	if s.lost != 1 { // 3
		t.Fatalf("lost %d across the wrap, want 1", s.lost)
	}
}

func TestRecordSerial(t *testing.T) {
	for in, want := range map[string]uint32{
		"audit(1796509706.148:2): arch=c000003e": 2,
		"audit(1796509706.164:4294967295): ":     4294967295,
	} {
		if n, ok := recordSerial([]byte(in)); !ok || n != want {
			t.Errorf("recordSerial(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "audit(1.2)", "pid=1 msg=audit(1.2:3)", "audit(1.2:x): "} {
		if _, ok := recordSerial([]byte(in)); ok {
			t.Errorf("recordSerial(%q) accepted", in)
		}
	}
}
