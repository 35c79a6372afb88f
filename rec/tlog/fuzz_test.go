package tlog

import (
	"bytes"
	"testing"
	"time"
)

// fuzzOp is one encoder call decoded from fuzz input.
type fuzzOp struct {
	kind       byte // 0 input, 1 output, 2 window, 3 flush
	t          time.Duration
	data       []byte
	cols, rows int
}

// fuzzOps decodes fuzz bytes into a payload and a sequence of calls:
// per op one kind byte, one time-step byte (x 0.1 ms) and a length byte.
func fuzzOps(b []byte) (payload int, ops []fuzzOp) {
	if len(b) == 0 {
		return MinPayload, nil
	}
	payload = MinPayload + int(b[0])
	b = b[1:]
	var t time.Duration
	for len(b) >= 3 {
		op := fuzzOp{kind: b[0] % 4}
		t += time.Duration(b[1]) * 100 * time.Microsecond
		op.t = t
		n := int(b[2])
		b = b[3:]
		switch op.kind {
		case 0, 1:
			n = min(n, len(b))
			op.data, b = b[:n], b[n:]
		case 2:
			op.cols, op.rows = n*257, n/3 // up to 65535: long window records
		}
		ops = append(ops, op)
	}
	return payload, ops
}

// runFuzzOps encodes ops, feeding data in one call or byte by byte.
func runFuzzOps(t *testing.T, payload int, ops []fuzzOp, byteWise bool) *collect {
	var c collect
	e := NewEncoder(Meta{Host: "h", Rec: "r", User: "u", Term: "t", Session: 1, Start: time.Unix(1e9, 0)},
		Options{Payload: payload, Input: true, Output: true, Window: true}, &c)
	var last time.Duration
	for _, op := range ops {
		var err error
		switch op.kind {
		case 0, 1:
			f := e.Input
			if op.kind == 1 {
				f = e.Output
			}
			if byteWise {
				for i := range op.data {
					if err = f(op.t, op.data[i:i+1]); err != nil {
						break
					}
				}
			} else {
				err = f(op.t, op.data)
			}
		case 2:
			err = e.Window(op.t, op.cols, op.rows)
		case 3:
			err = e.Flush(op.t%2 == 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		last = op.t
	}
	if err := e.Close(last); err != nil {
		t.Fatal(err)
	}
	return &c
}

func FuzzEncoder(f *testing.F) {
	f.Add([]byte("\x00\x01\x00\x05hello\x00\x0a\x02\xe2\x82\x01\x00\x01\xac"))
	f.Add([]byte("\x20\x02\x00\x50\x01\x00\x10\xff\xfe \"\\\x01\x1b[1m\xf0\x9f\x98\x80\x03\x0a\x00\x00\x0b\x03abc"))
	f.Add(append([]byte("\x00\x01\x00\xff"), bytes.Repeat([]byte("a\xc3\xa9\xed\xa0\x80\xf4\x90\x80\x80\x7f\n"), 30)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, ops := fuzzOps(b)
		c := runFuzzOps(t, payload, ops, false)

		// The single-call encoding must equal feeding the same bytes one
		// call at a time at the same times (checks the ASCII fast path and
		// held-back characters against the general path).
		if cb := runFuzzOps(t, payload, ops, true); !equalLines(c, cb) {
			t.Fatalf("bulk and byte-wise encodings differ:\n%q\n%q", c.lines(), cb.lines())
		}

		var want, got [2][]byte
		for _, op := range ops {
			if op.kind < 2 {
				want[op.kind] = append(want[op.kind], op.data...)
			}
		}
		var lastT time.Duration
		for i, m := range c.msgs {
			if m.ID != uint64(i+1) || m.Final != (i == len(c.msgs)-1) {
				t.Fatalf("message %d: ID %d Final %v", i, m.ID, m.Final)
			}
			if p := payloadOf(t, m.Line); p > payload {
				t.Fatalf("message %d payload %d > %d: %s", i+1, p, payload, m.Line)
			}
			d, err := decodeLine(m.Line)
			if err != nil {
				t.Fatalf("message %d does not parse: %v\n%s", i+1, err, m.Line)
			}
			if d.Pos != m.Pos || d.ID != m.ID {
				t.Fatalf("message %d: parsed pos/id %v/%d, message says %v/%d", i+1, d.Pos, d.ID, m.Pos, m.ID)
			}
			for _, ev := range d.Events {
				if ev.T < lastT {
					t.Fatalf("time goes backwards in message %d: %v < %v", i+1, ev.T, lastT)
				}
				lastT = ev.T
				if ev.Kind != KindWindow {
					got[ev.Kind-KindIn] = append(got[ev.Kind-KindIn], ev.Data...)
				}
			}
		}
		for s := range 2 {
			if !bytes.Equal(got[s], want[s]) {
				t.Fatalf("stream %d: decoded %q, encoded %q", s, got[s], want[s])
			}
		}
	})
}

func equalLines(a, b *collect) bool {
	if len(a.msgs) != len(b.msgs) {
		return false
	}
	for i := range a.msgs {
		if !bytes.Equal(a.msgs[i].Line, b.msgs[i].Line) {
			return false
		}
	}
	return true
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"ver":"2.3","host":"vm","rec":"x","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795349830.121,"timing":">2]1/1>1+203>5","in_txt":"","in_bin":[],"out_txt":"hi�\ndone\n","out_bin":[255]}`,
		`{"ver":2,"host":"","user":"","term":"","session":1,"id":0,"pos":5,"timing":" =80x24 <1[1/2 ","in_txt":"a�","in_bin":[1,2],"out_bin":[],"extra":{"a":[1]}}`,
		`{"ver":"3.0","host":"","user":"","term":"","session":1,"id":0,"pos":5,"timing":"","in_bin":[],"out_bin":[]}`,
		`{"ver":"2.2","host":"","user":"","term":"","session":1,"id":0,"pos":5,"timing":"]1/1","out_txt":"x","in_bin":[],"out_bin":[256]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeLine(b)
		if err != nil {
			return
		}
		if d.Major > 2 || d.Session == 0 || d.Pos < 0 {
			t.Fatalf("accepted invalid header: %+v", d)
		}
		last := d.Pos
		for _, ev := range d.Events {
			if ev.T < last || ev.Kind > KindOut || (ev.Kind != KindWindow && len(ev.Data) == 0) ||
				ev.Cols > MaxWindow || ev.Rows > MaxWindow {
				t.Fatalf("bad event %+v", ev)
			}
			last = ev.T
		}
	})
}
