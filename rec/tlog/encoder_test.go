package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
)

// collect stores copies of the messages it is given.
type collect struct {
	msgs []msg.Message
	fail int // fail this many calls before succeeding
}

func (c *collect) WriteMessage(m *msg.Message) error {
	if c.fail > 0 {
		c.fail--
		return errors.New("disk full")
	}
	cp := *m
	cp.Line = bytes.Clone(m.Line)
	c.msgs = append(c.msgs, cp)
	return nil
}

func (c *collect) lines() []string {
	var s []string
	for _, m := range c.msgs {
		s = append(s, string(m.Line))
	}
	return s
}

const ms = time.Millisecond

// specMeta is the metadata of the spec's ground-truth recordings (1.10).
func specMeta(rec string, start time.Time) Meta {
	return Meta{Host: "vm", Rec: rec, User: "root", Term: "xterm", Session: 4294967295, Start: start}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGroundTruthPipes(t *testing.T) {
	var c collect
	e := NewEncoder(specMeta("880036822e704a8f8b7f642af594eba7-1a70-21a17", time.UnixMilli(1795349830121)),
		Options{Payload: 2048, Output: true, Window: true}, &c)
	mustNoErr(t, e.Output(0, []byte("hi\377\n")))
	mustNoErr(t, e.Output(203*ms+400*time.Microsecond, []byte("done\n")))
	mustNoErr(t, e.Close(204*ms))
	want := `{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-1a70-21a17","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795349830.121,"timing":">2]1/1>1+203>5","in_txt":"","in_bin":[],"out_txt":"hi�\ndone\n","out_bin":[255]}` + "\n"
	if got := c.lines(); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if !c.msgs[0].Final || c.msgs[0].ID != 1 || c.msgs[0].Session != 4294967295 || c.msgs[0].Rec == "" || c.msgs[0].User != "root" {
		t.Fatalf("message fields: %+v", c.msgs[0])
	}
}

func TestGroundTruthInteractive(t *testing.T) {
	var c collect
	e := NewEncoder(specMeta("880036822e704a8f8b7f642af594eba7-493a-39e67", time.UnixMilli(1795350824217)),
		Options{Payload: 2048, Input: true, Output: true, Window: true}, &c)
	steps := []func() error{
		func() error { return e.Window(0, 80, 24) },
		func() error { return e.Output(3*ms, []byte("# ")) },
		func() error { return e.Input(466*ms, []byte("echo h\xe9\r")) },
		func() error { return e.Output(466*ms+300*time.Microsecond, []byte("echo h\xe9\r\nh\xe9\r\n# ")) },
		func() error { return e.Window(966*ms+500*time.Microsecond, 100, 30) },
		func() error { return e.Window(1000*ms, 100, 30) }, // unchanged: no record, no time
		func() error { return e.Input(1266*ms+500*time.Microsecond, []byte(`printf '\377\342\202x\n'`+"\r")) },
		func() error {
			return e.Output(1266*ms+700*time.Microsecond, []byte(`printf '\377\342\202x\n'`+"\r\n\xff\xe2\x82x\r\n# "))
		},
		func() error { return e.Input(1565*ms+800*time.Microsecond, []byte("exit\r")) },
		func() error { return e.Output(1565*ms+900*time.Microsecond, []byte("exit\r\n")) },
		func() error { return e.Close(1566 * ms) },
	}
	for _, s := range steps {
		mustNoErr(t, s())
	}
	want := `{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-493a-39e67","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795350824.217,"timing":"=80x24+3>2+463<6[1/1>6]1/1>3]1/1<1>4+500=100x30+300>26]2/3<25>5+299<5>6","in_txt":"echo h�\rprintf '\\377\\342\\202x\\n'\rexit\r","in_bin":[233],"out_txt":"# echo h�\r\nh�\r\n# printf '\\377\\342\\202x\\n'\r\n��x\r\n# exit\r\n","out_bin":[233,233,255,226,130]}` + "\n"
	if got := c.lines(); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestGroundTruthPayload64(t *testing.T) {
	var c collect
	e := NewEncoder(specMeta("880036822e704a8f8b7f642af594eba7-41d0-33085", time.UnixMilli(1795350542911)),
		Options{Payload: 64, Output: true, Window: true}, &c)
	mustNoErr(t, e.Window(0, 80, 24))
	mustNoErr(t, e.Output(2*ms, []byte("0123456789abcdefghij0123456789abcdefghij\r\n")))
	mustNoErr(t, e.Output(106*ms, []byte("\xff\xfe tab\there \"q\" \\ ctl\x01\x1b[1m é€😀\r\n")))
	mustNoErr(t, e.Close(106*ms))
	want := []string{
		`{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-41d0-33085","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795350542.911,"timing":"=80x24+2>42","in_txt":"","in_bin":[],"out_txt":"0123456789abcdefghij0123456789abcdefghij\r\n","out_bin":[]}` + "\n",
		`{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-41d0-33085","user":"root","term":"xterm","session":4294967295,"id":2,"pos":106,"time":1795350543.017,"timing":"=80x24]2/2>24","in_txt":"","in_bin":[],"out_txt":"�� tab\there \"q\" \\ ctl\u0001\u001b[1m","out_bin":[255,254]}` + "\n",
		`{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-41d0-33085","user":"root","term":"xterm","session":4294967295,"id":3,"pos":106,"time":1795350543.017,"timing":"=80x24>6","in_txt":"","in_bin":[],"out_txt":" é€😀\r\n","out_bin":[]}` + "\n",
	}
	got := c.lines()
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, ""), strings.Join(want, ""))
	}
	for i, m := range c.msgs {
		if m.ID != uint64(i+1) || m.Final != (i == 2) {
			t.Errorf("message %d: ID %d Final %v", i, m.ID, m.Final)
		}
	}
	if c.msgs[1].Pos != 106*ms || c.msgs[2].Pos != 106*ms {
		t.Errorf("Pos = %v, %v; want 106ms", c.msgs[1].Pos, c.msgs[2].Pos)
	}
	// The spec reports sums of 55 and 63, but its own second line (matched
	// byte for byte above) adds up to 13+44+7 = 64: the limit itself.
	for i, wantSum := range []int{55, 64} {
		if s := payloadOf(t, c.msgs[i].Line); s != wantSum {
			t.Errorf("message %d payload %d, want %d", i+1, s, wantSum)
		}
	}
}

// payloadOf measures a line's encoded payload: timing, escaped texts and
// the bin lists, as tlog accounts it.
func payloadOf(t *testing.T, line []byte) int {
	t.Helper()
	sum := 0
	for _, f := range []struct{ open, close string }{
		{`"timing":"`, `","in_txt":"`},
		{`"in_txt":"`, `","in_bin":[`},
		{`"in_bin":[`, `],"out_txt":"`},
		{`"out_txt":"`, `","out_bin":[`},
		{`"out_bin":[`, `]}`},
	} {
		i := bytes.Index(line, []byte(f.open))
		j := bytes.Index(line, []byte(f.close))
		if i < 0 || j < 0 {
			t.Fatalf("field %s missing in %q", f.open, line)
		}
		sum += j - (i + len(f.open))
	}
	return sum
}

func TestSpecInvalidExample(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, &c)
	mustNoErr(t, e.Output(0, []byte("a/b\177\033x\u2028\300\257\355\240\200\364\220\200\200z")))
	mustNoErr(t, e.Close(0))
	l := c.lines()[0]
	for _, want := range []string{`"timing":">7]9/9>1"`, `"out_bin":[192,175,237,160,128,244,144,128,128]`,
		`"out_txt":"a/b\u007f\u001bx` + "\u2028" + `���������z"`} {
		if !strings.Contains(l, want) {
			t.Errorf("%s lacks %s", l, want)
		}
	}
}

func TestIncompleteFlushedAtClose(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, &c)
	mustNoErr(t, e.Output(0, []byte("\342\202")))
	if _, ok := e.Pending(); ok {
		t.Fatal("an incomplete character alone must not be pending")
	}
	mustNoErr(t, e.Close(5*ms))
	l := c.lines()[0]
	if !strings.Contains(l, `"timing":"]1/2","in_txt":"","in_bin":[],"out_txt":"�","out_bin":[226,130]`) {
		t.Fatal(l)
	}
	if !strings.Contains(l, `"pos":0,`) {
		t.Fatalf("pos must be the time of the held bytes: %s", l)
	}
}

func TestCharacterAcrossWrites(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, &c)
	// "€" split over three writes, then an interrupted prefix across writes.
	mustNoErr(t, e.Output(0, []byte("\xe2")))
	mustNoErr(t, e.Output(1*ms, []byte("\x82")))
	mustNoErr(t, e.Output(2*ms, []byte("\xac\xf0\x9f")))
	mustNoErr(t, e.Output(3*ms, []byte("x")))
	mustNoErr(t, e.Close(3*ms))
	l := c.lines()[0]
	// The character is timed by its last byte (2 ms), the first record is
	// never a delay; the broken prefix keeps its own time (2 ms).
	if !strings.Contains(l, `"pos":2,`) || !strings.Contains(l, `"timing":">1]1/2+1>1"`) ||
		!strings.Contains(l, `"out_txt":"€�x","out_bin":[240,159]`) {
		t.Fatal(l)
	}
}

func TestDelayTruncationAndReference(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, &c)
	// 0.6 ms steps: no single step reaches 1 ms, so no delay is ever written,
	// although 3 ms pass (the reference point moves each time).
	for i := 0; i < 6; i++ {
		mustNoErr(t, e.Output(time.Duration(i)*600*time.Microsecond, []byte("a")))
	}
	mustNoErr(t, e.Output(5*ms+1999*time.Microsecond, []byte("b"))) // +3.999 ms → +3
	mustNoErr(t, e.Output(1234*ms+5*time.Second, []byte("c")))
	mustNoErr(t, e.Close(7*time.Second))
	if l := c.lines()[0]; !strings.Contains(l, `"timing":">6+3>1+6227>1"`) {
		t.Fatal(l)
	}
}

func TestWindowRestatedAndOff(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true, Window: true}, &c)
	mustNoErr(t, e.Output(0, []byte("x")))
	mustNoErr(t, e.Window(1*ms, 80, 24))
	mustNoErr(t, e.Flush(true))
	mustNoErr(t, e.Output(2*ms, []byte("y")))
	mustNoErr(t, e.Flush(false))
	mustNoErr(t, e.Window(3*ms, 81, 24))
	mustNoErr(t, e.Output(3*ms, []byte("z")))
	mustNoErr(t, e.Close(4*ms))
	mustNoErr(t, e.Close(5*ms)) // idempotent
	got := c.lines()
	wantTiming := []string{`">1+1=80x24"`, `"=80x24>1"`, `"=81x24>1"`}
	if len(got) != len(wantTiming) {
		t.Fatalf("%d messages: %q", len(got), got)
	}
	for i, w := range wantTiming {
		if !strings.Contains(got[i], `"timing":`+w) {
			t.Errorf("message %d: want timing %s in %s", i+1, w, got[i])
		}
	}
	if !c.msgs[0].Checkpoint || c.msgs[1].Checkpoint || !c.msgs[2].Final || !strings.Contains(got[2], `"pos":3,`) {
		t.Errorf("flags/pos wrong: %+v", c.msgs)
	}

	c = collect{}
	e = NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, &c)
	mustNoErr(t, e.Window(0, 80, 24))
	mustNoErr(t, e.Output(0, []byte("x")))
	mustNoErr(t, e.Close(0))
	if l := c.lines()[0]; !strings.Contains(l, `"timing":">1"`) {
		t.Fatal(l)
	}
}

func TestWindowRange(t *testing.T) {
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Window: true}, &collect{})
	for _, w := range [][2]int{{-1, 1}, {1, 65536}} {
		if err := e.Window(0, w[0], w[1]); err == nil {
			t.Errorf("window %v accepted", w)
		}
	}
	mustNoErr(t, e.Window(0, 65535, 0))
}

func TestInputOffKeepsOrigin(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1, Start: time.Unix(1000, 0)}, Options{Payload: 2048, Output: true}, &c)
	mustNoErr(t, e.Input(0, []byte("secret")))
	mustNoErr(t, e.Output(50*ms, []byte("a")))
	mustNoErr(t, e.Input(60*ms, []byte("secret")))
	mustNoErr(t, e.Output(70*ms, []byte("b")))
	mustNoErr(t, e.Close(80*ms))
	l := c.lines()[0]
	// Like tlog, ignored input neither shows nor moves the origin: the first
	// logged packet (50 ms) is pos 0, while "time" is its wall-clock time.
	if strings.Contains(l, "secret") || !strings.Contains(l, `"pos":0,"time":1000.050,"timing":">1+20>1","in_txt":""`) {
		t.Fatal(l)
	}
}

func TestEmptyRecording(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 7}, Options{Payload: 2048, Output: true, Window: true}, &c)
	mustNoErr(t, e.Flush(true)) // nothing pending: no message
	mustNoErr(t, e.Close(3*time.Second))
	got := c.lines()
	if len(got) != 1 || !strings.Contains(got[0], `"id":1,"pos":0,"time":0.000,"timing":"","in_txt":"","in_bin":[],"out_txt":"","out_bin":[]}`) || !c.msgs[0].Final {
		t.Fatalf("%q", got)
	}
	if err := e.Output(4*time.Second, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestLargeWriteSplitsSamePos(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 100, Output: true, Window: true}, &c)
	mustNoErr(t, e.Window(0, 80, 24))
	data := bytes.Repeat([]byte("héllo wörld 😀 \"\x01\xff\xc3"), 500)
	mustNoErr(t, e.Output(7*ms, data))
	mustNoErr(t, e.Close(8*ms))
	var got []byte
	for i, m := range c.msgs {
		if p := payloadOf(t, m.Line); p > 100 {
			t.Errorf("message %d payload %d > 100", i+1, p)
		}
		d, err := decodeLine(m.Line)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && (d.Pos != 7*ms || !bytes.HasPrefix(d.Timing, []byte("=80x24"))) {
			t.Errorf("message %d: pos %v timing %s", i+1, d.Pos, d.Timing)
		}
		for _, ev := range d.Events {
			if ev.Kind == KindOut {
				got = append(got, ev.Data...)
			}
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("round trip mismatch: %d vs %d bytes", len(got), len(data))
	}
	if len(c.msgs) < 10 {
		t.Fatalf("only %d messages", len(c.msgs))
	}
}

func TestPending(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, &c)
	if _, ok := e.Pending(); ok {
		t.Fatal("pending before any data")
	}
	mustNoErr(t, e.Output(5*ms, []byte("a")))
	mustNoErr(t, e.Output(9*ms, []byte("b")))
	if since, ok := e.Pending(); !ok || since != 5*ms {
		t.Fatalf("Pending = %v, %v", since, ok)
	}
	mustNoErr(t, e.Flush(false))
	if _, ok := e.Pending(); ok {
		t.Fatal("pending after flush")
	}
}

func TestWriterErrorRetry(t *testing.T) {
	ref := &collect{}
	input := [][]byte{[]byte("hello "), bytes.Repeat([]byte("0123456789"), 30), []byte("\xe2\x82"), []byte("\xacend")}
	run := func(c *collect, failAt map[int]int) {
		e := NewEncoder(Meta{Session: 1}, Options{Payload: 64, Output: true, Window: true}, c)
		step := 0
		call := func(f func() error) {
			c.fail = failAt[step]
			step++
			for f() != nil {
				// A failed call accepted its data: retry delivery via Flush
				// only (never resubmit). Flush retries until the writer works.
				f = func() error { return e.Flush(false) }
			}
		}
		call(func() error { return e.Window(0, 80, 24) })
		for i, p := range input {
			call(func() error { return e.Output(time.Duration(i)*ms, p) })
		}
		call(func() error { return e.Window(9*ms, 100, 50) })
		call(func() error { return e.Close(10 * ms) })
	}
	run(ref, nil)
	// Every call's writer fails twice: the result must be the same except
	// for the extra flush cuts, and IDs must stay consecutive.
	got := &collect{}
	run(got, map[int]int{1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 2})
	var a, b []byte
	for i, c := range []*collect{ref, got} {
		for j, m := range c.msgs {
			if m.ID != uint64(j+1) {
				t.Fatalf("run %d: message %d has ID %d", i, j, m.ID)
			}
			d, err := decodeLine(m.Line)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range d.Events {
				if ev.Kind == KindOut {
					if i == 0 {
						a = append(a, ev.Data...)
					} else {
						b = append(b, ev.Data...)
					}
				}
			}
		}
		if !c.msgs[len(c.msgs)-1].Final {
			t.Fatalf("run %d: last message not final", i)
		}
	}
	if !bytes.Equal(a, b) || !bytes.Equal(a, bytes.Join(input, nil)) {
		t.Fatalf("data differs:\n%q\n%q", a, b)
	}
}

func TestCloseRetry(t *testing.T) {
	c := &collect{}
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 2048, Output: true}, c)
	mustNoErr(t, e.Output(0, []byte("a\xe2")))
	c.fail = 1
	if err := e.Close(1 * ms); err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "message 1") {
		t.Fatalf("Close error = %v", err)
	}
	mustNoErr(t, e.Close(2*ms))
	mustNoErr(t, e.Close(3*ms))
	if len(c.msgs) != 1 || !c.msgs[0].Final || !strings.Contains(string(c.msgs[0].Line), `"timing":">1]1/1"`) {
		t.Fatalf("%q", c.lines())
	}
}

func TestMetaEscaping(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Host: "h\"o/st", Rec: "r\\", User: "us\x01er\xff", Term: "xterm-256color", Session: 42, Start: time.UnixMilli(1999)},
		Options{Payload: 32, Output: true}, &c)
	mustNoErr(t, e.Close(0))
	want := `{"ver":"2.3","host":"h\"o/st","rec":"r\\","user":"us\u0001er�","term":"xterm-256color","session":42,"id":1,"pos":0,"time":1.999,"timing":"","in_txt":"","in_bin":[],"out_txt":"","out_bin":[]}` + "\n"
	if got := c.lines()[0]; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestPayloadMinimum(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 1, Output: true, Input: true, Window: true}, &c)
	mustNoErr(t, e.Window(0, 65535, 65535))
	mustNoErr(t, e.Input(1*ms, []byte("\xf0\x9f\x98x\x7f")))
	mustNoErr(t, e.Output(1*ms, []byte("\xf4\x8f\xbf\x01\x00😀")))
	mustNoErr(t, e.Close(2*ms))
	for _, m := range c.msgs {
		if p := payloadOf(t, m.Line); p > MinPayload {
			t.Errorf("payload %d > %d: %s", p, MinPayload, m.Line)
		}
	}
}

// flaky fails every third call.
type flaky struct {
	collect
	calls int
}

func (f *flaky) WriteMessage(m *msg.Message) error {
	f.calls++
	if f.calls%3 == 0 {
		return errors.New("transient")
	}
	return f.collect.WriteMessage(m)
}

// summary decodes messages into per-stream data and the window sequence.
func summary(t *testing.T, c *collect) (in, out []byte, wins []string) {
	t.Helper()
	for i, m := range c.msgs {
		if m.ID != uint64(i+1) || m.Final != (i == len(c.msgs)-1) {
			t.Fatalf("message %d: ID %d Final %v", i, m.ID, m.Final)
		}
		d, err := decodeLine(m.Line)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range d.Events {
			switch ev.Kind {
			case KindIn:
				in = append(in, ev.Data...)
			case KindOut:
				out = append(out, ev.Data...)
			case KindWindow:
				if w := fmt.Sprintf("%dx%d", ev.Cols, ev.Rows); len(wins) == 0 || wins[len(wins)-1] != w {
					wins = append(wins, w)
				}
			}
		}
	}
	return in, out, wins
}

// With a writer failing every third message and a caller that just keeps
// going (never resubmitting), nothing is lost, duplicated or reordered.
func TestWriterFailuresContinue(t *testing.T) {
	script := func(e *Encoder) (errs int) {
		note := func(err error) {
			if err != nil {
				errs++
			}
		}
		for i := range 40 {
			ts := time.Duration(i) * ms
			note(e.Window(ts, 80+i%3, 24))
			note(e.Input(ts, []byte("in\xe2\x82")))
			note(e.Output(ts, bytes.Repeat([]byte("out \xff\xf0\x9f\x98\x80 "), i%7)))
			if i%5 == 0 {
				note(e.Flush(true))
			}
		}
		for e.Close(41*ms) != nil {
			errs++
		}
		return errs
	}
	opts := Options{Payload: 40, Input: true, Output: true, Window: true}
	var ref collect
	if n := script(NewEncoder(Meta{Session: 1}, opts, &ref)); n != 0 {
		t.Fatalf("%d errors from a working writer", n)
	}
	var fl flaky
	if n := script(NewEncoder(Meta{Session: 1}, opts, &fl)); n == 0 {
		t.Fatal("the flaky writer never failed")
	}
	in1, out1, w1 := summary(t, &ref)
	in2, out2, w2 := summary(t, &fl.collect)
	if !bytes.Equal(in1, in2) || !bytes.Equal(out1, out2) || strings.Join(w1, ",") != strings.Join(w2, ",") {
		t.Fatalf("differs:\n%q\n%q\n%v\n%v", in1, in2, w1, w2)
	}
}

func TestCloseCutNeedsNewMessage(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1}, Options{Payload: 32, Output: true, Input: true}, &c)
	mustNoErr(t, e.Output(0, []byte(strings.Repeat("a", 24)+"\xf0\x9f\x98")))
	mustNoErr(t, e.Input(1*ms, []byte("\xe2")))
	mustNoErr(t, e.Close(2*ms))
	got := c.lines()
	if len(got) != 2 || !strings.Contains(got[0], `"timing":">24"`) || c.msgs[0].Final ||
		!strings.Contains(got[1], `"pos":1,`) || !strings.Contains(got[1], `"timing":"[1/1]1/3","in_txt":"�","in_bin":[226],"out_txt":"�","out_bin":[240,159,152]}`) || !c.msgs[1].Final {
		t.Fatalf("%q", got)
	}
}

func TestOutputOff(t *testing.T) {
	var c collect
	e := NewEncoder(Meta{Session: 1, Start: time.Unix(100, 0)}, Options{Payload: 2048, Input: true}, &c)
	mustNoErr(t, e.Output(0, []byte("hidden")))
	mustNoErr(t, e.Input(1*ms, []byte("k")))
	mustNoErr(t, e.Close(2*ms))
	if l := c.lines(); len(l) != 1 || strings.Contains(l[0], "hidden") || !strings.Contains(l[0], `"pos":0,"time":100.001,"timing":"<1"`) {
		t.Fatalf("%q", l)
	}
}

// TestPlainRun checks the eight-bytes-at-a-time scan against escLen for
// every byte value at every position of a word and its tail.
func TestPlainRun(t *testing.T) {
	for b := 0; b < 256; b++ {
		plain := b < 0x80 && escLen[b] == 1
		for i := 0; i < 19; i++ {
			p := bytes.Repeat([]byte{'a'}, 19)
			p[i] = byte(b)
			want := i
			if plain {
				want = len(p)
			}
			if got := plainRun(p); got != want {
				t.Fatalf("byte %#x at %d: plainRun = %d, want %d", b, i, got, want)
			}
		}
	}
}
