package player

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"
)

func TestKeyParser(t *testing.T) {
	var k keyParser
	kinds := func(in ...string) []actionKind {
		var got []actionKind
		for _, s := range in {
			for _, a := range k.feed([]byte(s)) {
				got = append(got, a.kind)
			}
		}
		return got
	}
	for _, tc := range []struct {
		name string
		in   []string
		want []actionKind
	}{
		{"all keys", []string{" p.}{\x7f\x08Gq"}, []actionKind{actPause, actPause, actStep, actFaster, actSlower, actNormal, actNormal, actGoto, actQuit}},
		{"others ignored", []string{"xQ\r\n\x03"}, nil},
		{"cursor report", []string{"\x1b[12;40Rq"}, []actionKind{actQuit}},
		{"split CSI", []string{"\x1b", "[1", ";2", "R", "."}, []actionKind{actStep}},
		{"function key", []string{"\x1bOP\x1b[15~ "}, []actionKind{actPause}},
		{"OSC reply, BEL", []string{"\x1b]11;rgb:0000/q000/0000\x07q"}, []actionKind{actQuit}},
		{"OSC reply, ST", []string{"\x1b]11;rgb:0000/0000/0000\x1b", "\\."}, []actionKind{actStep}},
		{"DCS", []string{"\x1bP1$r0 q\x1b\\G"}, []actionKind{actGoto}},
		{"mouse X10", []string{"\x1b[M q.", "p"}, []actionKind{actPause}},
		{"alt key", []string{"\x1bqq"}, []actionKind{actQuit}},
	} {
		k = keyParser{}
		if got := kinds(tc.in...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q gives %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}

	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"G", Target{End: true}},
		{"30G", Target{T: 30 * time.Second}},
		{"30:G", Target{T: 30 * time.Minute}},
		{"2::G", Target{T: 2 * time.Hour}},
		{"1:02:03G", Target{T: time.Hour + 2*time.Minute + 3*time.Second}},
		{"5x30G", Target{T: 30 * time.Second}}, // another key clears the digits
	} {
		k = keyParser{}
		acts := k.feed([]byte(tc.in))
		if len(acts) != 1 || acts[0].kind != actGoto || acts[0].target != tc.want {
			t.Errorf("%q gives %+v, want goto %+v", tc.in, acts, tc.want)
		}
	}
	k = keyParser{}
	if acts := k.feed([]byte("1:2:3:4G")); len(acts) != 0 {
		t.Errorf("a bad time before G gives %+v, want nothing", acts)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"start":        {},
		"end":          {End: true},
		"0":            {},
		"2.5":          {T: 2500 * time.Millisecond},
		".25":          {T: 250 * time.Millisecond},
		"90":           {T: 90 * time.Second},
		"30:":          {T: 30 * time.Minute},
		"1:30":         {T: 90 * time.Second},
		"2::":          {T: 2 * time.Hour},
		"1:02:03.004":  {T: time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond},
		"::5":          {T: 5 * time.Second},
		"0.1234567891": {T: 123456789},
	} {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1:2:3:4", "1.5:", "1e3", " 1", ".", "1.2.3", "Start",
		"99999999999999", "999999999:"} {
		if got, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) = %+v, want an error", in, got)
		}
	}
}

// The real clock: keys end a wait, a closed keyboard does not (it would
// otherwise wake the player in a loop), and the time runs out.
func TestClock(t *testing.T) {
	pr, pw := io.Pipe()
	c := NewClock(ReadKeys(pr))
	go func() { _, _ = pw.Write([]byte("q")) }()
	if b, err := c.Wait(context.Background(), -1); err != nil || string(b) != "q" {
		t.Fatalf("Wait = %q, %v; want q", b, err)
	}
	pw.Close()
	start := time.Now()
	if b, err := c.Wait(context.Background(), 100*time.Millisecond); err != nil || b != nil {
		t.Fatalf("Wait after the keyboard closed = %q, %v", b, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("Wait returned after %v, before its time", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Wait(ctx, -1); err != context.Canceled {
		t.Errorf("Wait on a done context = %v", err)
	}
}
