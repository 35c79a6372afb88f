package player

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/rec/tlog"
)

var t0 = time.Unix(1_800_000_000, 0)

// step is something that happens at a time of the fake clock: keys typed
// and/or an action (appending to a file).
type step struct {
	at   time.Duration
	keys string
	do   func()
}

// fakeWaiter is a clock that jumps instead of sleeping; scripted keys
// interrupt the wait they fall into, scripted actions happen during it.
type fakeWaiter struct {
	now    time.Time
	script []step
	waits  int
}

func (f *fakeWaiter) Now() time.Time { return f.now }

func (f *fakeWaiter) Wait(_ context.Context, d time.Duration) ([]byte, error) {
	f.waits++
	if f.waits > 10000 {
		return nil, errors.New("fake waiter: the player keeps waiting")
	}
	for len(f.script) > 0 {
		s := f.script[0]
		at := t0.Add(s.at)
		if d >= 0 && at.After(f.now.Add(d)) {
			break
		}
		f.script = f.script[1:]
		if at.After(f.now) {
			if d >= 0 {
				d -= at.Sub(f.now)
			}
			f.now = at
		}
		if s.do != nil {
			s.do()
		}
		// Only keys end a wait early; a file growing does not.
		if s.keys != "" {
			return []byte(s.keys), nil
		}
	}
	if d < 0 {
		return nil, errors.New("fake waiter: would wait forever")
	}
	f.now = f.now.Add(d)
	return nil, nil
}

// capture records when each output byte was written.
type capture struct {
	w     *fakeWaiter
	data  []byte
	times []time.Duration
}

func (c *capture) Write(p []byte) (int, error) {
	for range p {
		c.times = append(c.times, c.w.now.Sub(t0))
	}
	c.data = append(c.data, p...)
	return len(p), nil
}

// events is a Source of output events of one byte each, "a" at ts[0]...
type events struct{ evs []tlog.Event }

func outAt(ts ...time.Duration) *events {
	s := &events{}
	for i, t := range ts {
		s.evs = append(s.evs, tlog.Event{Kind: tlog.KindOut, T: t, Data: []byte{byte('a' + i)}})
	}
	return s
}

func (s *events) Next() (tlog.Event, error) {
	if len(s.evs) == 0 {
		return tlog.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func secs(fs ...float64) []time.Duration {
	var ds []time.Duration
	for _, f := range fs {
		ds = append(ds, sec(f))
	}
	return ds
}

// play runs a player on src with the script and returns what it wrote when.
func play(t *testing.T, src Source, opt Options, script ...step) (*capture, *Player, error) {
	t.Helper()
	w := &fakeWaiter{now: t0, script: script}
	c := &capture{w: w}
	p := New(src, w, c, opt)
	err := p.Run(context.Background())
	if len(w.script) > 0 && err == nil {
		t.Errorf("%d scripted steps left over", len(w.script))
	}
	return c, p, err
}

func expect(t *testing.T, c *capture, data string, times []time.Duration) {
	t.Helper()
	if string(c.data) != data || !slices.Equal(c.times, times) {
		t.Errorf("wrote %q at %v\nwant %q at %v", c.data, c.times, data, times)
	}
}

func TestTiming(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want []time.Duration
	}{
		{"speed 1", Options{}, secs(0.5, 1, 3, 3)},
		{"speed 2", Options{Speed: 2}, secs(0.25, 0.5, 1.5, 1.5)},
		{"speed 0.5", Options{Speed: 0.5}, secs(1, 2, 6, 6)},
		{"idle limit", Options{IdleLimit: sec(0.75)}, secs(0.5, 1, 1.75, 1.75)},
		{"goto 2.5", Options{Goto: Target{T: sec(2.5)}}, secs(0, 0, 0.5, 0.5)},
		{"goto 1 exactly", Options{Goto: Target{T: sec(1)}}, secs(0, 0, 2, 2)},
		{"goto end", Options{Goto: Target{End: true}}, secs(0, 0, 0, 0)},
		{"goto past the end", Options{Goto: Target{T: sec(60)}}, secs(0, 0, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := play(t, outAt(secs(0.5, 1, 3, 3)...), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, c, "abcd", tc.want)
		})
	}
}

// slow is a Source whose reads take a second of the fake clock before
// event b: b is then late.
type slow struct {
	*events
	w *fakeWaiter
}

func (s slow) Next() (tlog.Event, error) {
	ev, err := s.events.Next()
	if err == nil && ev.Data[0] == 'b' {
		s.w.now = s.w.now.Add(sec(1))
	}
	return ev, err
}

// A late event is written at once and the schedule moves with it
// (stretching time, as tlog-play does) instead of rushing what follows;
// timer slack under lateTolerance does not move it.
func TestLateStretches(t *testing.T) {
	w := &fakeWaiter{now: t0}
	c := &capture{w: w}
	if err := New(slow{outAt(secs(0.5, 1, 2, 3)...), w}, w, c, Options{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abcd", secs(0.5, 1.5, 2.5, 3.5))
}

func TestPauseStep(t *testing.T) {
	c, _, err := play(t, outAt(secs(1, 2, 3)...), Options{},
		step{at: sec(0.5), keys: " "}, // pause before a
		step{at: sec(10), keys: "."},  // a now, still paused
		step{at: sec(20), keys: " "},  // resume from a's time: b 1 s later
	)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abc", secs(10, 21, 22))

	// Starting paused; the step skips b's long pause.
	c, _, err = play(t, outAt(secs(1, 30, 31)...), Options{Paused: true},
		step{at: sec(5), keys: "p"}, step{at: sec(7), keys: "."})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abc", secs(6, 7, 8))
}

func TestSpeedKeys(t *testing.T) {
	c, p, err := play(t, outAt(secs(0, 2, 4, 6, 8)...), Options{},
		step{at: sec(1), keys: "}"},  // at position 1: 2x
		step{at: sec(3), keys: "{{"}, // at position 1+2*2 = 5: 0.5x
		step{at: sec(5), keys: "\x7f"},
	)
	if err != nil {
		t.Fatal(err)
	}
	// c (4) at 1+3/2 = 2.5; d (6) at 3+1/0.5 = 5; e (8) at 5+2 = 7 at 1x.
	expect(t, c, "abcde", secs(0, 1.5, 2.5, 5, 7))
	if p.Speed() != 1 {
		t.Errorf("speed %v after backspace", p.Speed())
	}

	_, p, _ = play(t, outAt(secs(0, 1)...), Options{}, step{at: 0, keys: "}}}}}}}}}"})
	if p.Speed() != MaxSpeed {
		t.Errorf("speed %v after 9 doublings, want %v", p.Speed(), MaxSpeed)
	}
	_, p, _ = play(t, outAt(secs(0, 100)...), Options{}, step{at: 0, keys: "{{{{{{{{{"})
	if p.Speed() != MinSpeed {
		t.Errorf("speed %v after 9 halvings, want %v", p.Speed(), MinSpeed)
	}
}

func TestGotoKeys(t *testing.T) {
	ts := secs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	c, _, err := play(t, outAt(ts...), Options{},
		step{at: sec(2.5), keys: "7G"}, // c..f at once, g due at once too
		step{at: sec(3), keys: "1G"},   // backwards: ignored
		step{at: sec(4), keys: "0:9G"}, // 9 s: h at once, i due now
	)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abcdefghij", secs(1, 2, 2.5, 2.5, 2.5, 2.5, 2.5, 3.5, 4, 5))

	c, _, err = play(t, outAt(ts...), Options{}, step{at: sec(1.5), keys: "G"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abcdefghij", secs(1, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5))
}

func TestQuit(t *testing.T) {
	c, _, err := play(t, outAt(secs(1, 2, 3)...), Options{}, step{at: sec(1.5), keys: "q"})
	if !errors.Is(err, ErrQuit) {
		t.Fatalf("q: %v", err)
	}
	expect(t, c, "a", secs(1))

	c, _, err = play(t, outAt(secs(1, 2, 3)...), Options{Persist: true}, step{at: sec(1.5), keys: "q"})
	if err != nil {
		t.Fatalf("q with persist: %v", err)
	}
	expect(t, c, "abc", secs(1, 2, 3))
}

func TestSourceError(t *testing.T) {
	src := NewReaderSource(reader.New(bytes.NewBufferString(
		line(1, 0, "=80x24>1", "a")+line(3, 1000, ">1", "b")), "rec.json", reader.Options{}))
	c, _, err := play(t, src, Options{})
	var re *reader.Error
	if !errors.As(err, &re) || re.Line != 2 {
		t.Fatalf("want a reader error at line 2, got %v", err)
	}
	expect(t, c, "a", secs(0))
}

func TestWindowNotice(t *testing.T) {
	src := NewReaderSource(reader.New(bytes.NewBufferString(
		line(1, 0, "=80x24>1", "a")+line(2, 1000, "=80x24>1=100x30>1", "bc")), "rec.json", reader.Options{}))
	var notices []string
	c, _, err := play(t, src, Options{TermCols: 90, TermRows: 40, Notice: func(s string) { notices = append(notices, s) }})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abc", secs(0, 1, 1))
	if len(notices) != 1 || !bytes.Contains([]byte(notices[0]), []byte("100x30")) {
		t.Errorf("notices %q, want one about 100x30", notices)
	}
}

// line is a tlog message of recording "r".
func line(id, posMs int, timing, out string) string {
	return fmt.Sprintf(`{"ver":"2.3","host":"h","rec":"r","user":"u","term":"xterm","session":1,"id":%d,"pos":%d,`+
		`"timing":%q,"in_txt":"","in_bin":[],"out_txt":%q,"out_bin":[]}`+"\n", id, posMs, timing, out)
}

// Follow mode on a file being appended to, half a line at a time: the
// player waits for complete lines, plays them on time, and G catches up.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.json")
	appendFile := func(s string) func() {
		return func() {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendFile(line(1, 0, "=80x24>1", "a"))()
	second := line(2, 2000, ">1", "b")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := NewReaderSource(reader.New(NewTail(f), path, reader.Options{}))
	c, _, err := play(t, src, Options{Follow: true},
		step{at: sec(1), do: appendFile(second[:20])}, // half a line: not yet
		step{at: sec(1.6), do: appendFile(second[20:])},
		step{at: sec(2.6), do: appendFile(line(3, 2500, ">1", "c") + line(4, 9000, ">1", "d"))},
		step{at: sec(3.6), keys: "G"},
		step{at: sec(5), keys: "q"},
	)
	if !errors.Is(err, ErrQuit) {
		t.Fatalf("follow ends with q, got %v", err)
	}
	// b is read at the poll at 1.75 and due at 2; c is read at 2.75, half a
	// second late, and written at once; G writes d at once.
	expect(t, c, "abcd", secs(0, 2, 2.75, 3.6))
}

// What the recorded user wrote to make the viewer's terminal answer or
// fill the viewer's clipboard is not written, even split across events;
// --unfiltered writes it.
func TestFilter(t *testing.T) {
	chunks := []string{"a\x1b[", "6n\x1b]52;c;Y", "WJj\x07b\x1b[31mc\x1b]2;title\x07"}
	src := func() *events {
		s := &events{}
		for i, c := range chunks {
			s.evs = append(s.evs, tlog.Event{Kind: tlog.KindOut, T: sec(float64(i)), Data: []byte(c)})
		}
		return s
	}
	c, _, err := play(t, src(), Options{})
	if err != nil || string(c.data) != "ab\x1b[31mc\x1b]2;title\x07" {
		t.Errorf("filtered: %q, %v", c.data, err)
	}
	c, _, err = play(t, src(), Options{Unfiltered: true})
	if err != nil || string(c.data) != strings.Join(chunks, "") {
		t.Errorf("unfiltered: %q, %v", c.data, err)
	}
}
