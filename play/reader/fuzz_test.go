package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// fuzzSeeds are message lines covering the decoder's paths: real recorder
// output (tlog-rec's and Vigil's with the integrity object), escapes,
// surrogates, duplicate and escaped member names, odd numbers and types.
var fuzzSeeds = []string{
	`{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-1a70-21a17","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795349830.121,"timing":">2]1/1>1+203>5","in_txt":"","in_bin":[],"out_txt":"hi�\ndone\n","out_bin":[255]}`,
	`{"ver":"2.3","host":"vm","rec":"r","user":"root","term":"xterm","session":4294967295,"id":2,"pos":106,"time":1795350543.017,"timing":"=80x24]2/2>24","in_txt":"","in_bin":[],"out_txt":"�� tab\there \"q\" \\ ctl\u0001\u001b[1m","out_bin":[255,254],"vigil":{"v":1,"seq":2,"prev":"00","drop":{"messages":1,"bytes":2},"meta":{"a":[1,{"b":null}]},"end":true,"hash":"ab"}}`,
	`{"ver":"2.2","host":"h","user":"u","term":"t","session":1,"id":7,"pos":5,"timing":"=100x30<3>4[1/2","in_txt":"ab\ud83d\ude00\ufffd","in_bin":[1,2],"out_txt":"\u00e9\/x\ud800y","out_bin":[]}`,
	` { "ver" : 2 , "host":"","user":"","term":"","session":1,"id":0,"pos":0,"timing":" +0 >1 ","out_txt":"x","in_bin":[ 0 , -0 , 255 , 256 , 1.5 , [1] ],"out_bin":[]} ` + "\n",
	`{"\u0076er":"2.3","ver":"9","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"time":1e3,"timing":"","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"time":-0.0,"timing":">1","out_txt":"` + "\xe2\x82x\xff" + `","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"time":12.3456,"timing":"+1>2","out_txt":"😀€","in_bin":[],"out_bin":[],"in_txt":null}`,
	`null`,
	`{"ver":"2.3"}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":0,"id":0,"pos":0,"timing":"","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":2147483648000,"timing":"","in_bin":[],"out_bin":[]}`,
	`{"ver":"2.3","host":"h","user":"u","term":"t","session":1,"id":0,"pos":0,"timing":"]1/3","out_txt":"x","in_bin":[],"out_bin":[1,2]}`,
}

// FuzzDecodeMatchesParseMessage holds the fast decoder to tlog.ParseMessage
// (encoding/json based): same acceptance, same first failing field, same
// values and events.
func FuzzDecodeMatchesParseMessage(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	var d decoder
	var m Message
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := tlog.ParseMessage(b)
		gerr := d.decode(b, &m)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("ParseMessage error %v, decoder error %v", werr, gerr)
		}
		if werr != nil {
			var wf, gf *tlog.FieldError
			wok, gok := errors.As(werr, &wf), errors.As(gerr, &gf)
			if wok != gok || (wok && (wf.Field != gf.Field || wf.Reason != gf.Reason)) {
				t.Fatalf("ParseMessage error %v, decoder error %v", werr, gerr)
			}
			return
		}
		compareMessage(t, want, &m)
	})
}

func compareMessage(t *testing.T, want *tlog.Decoded, got *Message) {
	t.Helper()
	if want.Ver != got.Ver || want.Major != got.Major || want.Minor != got.Minor || want.Host != got.Host ||
		want.Rec != got.Rec || want.User != got.User || want.Term != got.Term || want.Session != got.Session ||
		want.ID != got.ID || want.Pos != got.Pos || !want.Time.Equal(got.Time) || want.Timing != string(got.Timing) ||
		want.InTxt != string(got.InTxt) || want.OutTxt != string(got.OutTxt) ||
		!bytes.Equal(want.InBin, got.InBin) || !bytes.Equal(want.OutBin, got.OutBin) {
		t.Fatalf("fields differ\nwant %+v\ngot  %+v", want, got)
	}
	if len(want.Events) != len(got.Events) {
		t.Fatalf("events differ\nwant %+v\ngot  %+v", want.Events, got.Events)
	}
	for i, w := range want.Events {
		g := got.Events[i]
		if w.Kind != g.Kind || w.T != g.T || w.Cols != g.Cols || w.Rows != g.Rows || !bytes.Equal(w.Data, g.Data) {
			t.Fatalf("event %d differs\nwant %+v\ngot  %+v", i, w, g)
		}
	}
}

// FuzzReader feeds arbitrary input to a Reader in strict and lax mode: it
// never panics, strict mode stops at the first error with an *Error naming
// a line, and lax mode yields at least what strict mode yielded.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s + "\n" + s + "\n\n" + s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		strict := drain(t, New(bytes.NewReader(b), "f", Options{MaxLine: 4096}))
		var skips int
		lax := drain(t, New(bytes.NewReader(b), "f", Options{Lax: true, MaxLine: 4096, OnSkip: func(e *Error) {
			if e.Line < 1 {
				t.Fatalf("skip without a line: %v", e)
			}
			skips++
		}}))
		if lax.err != nil {
			t.Fatalf("lax mode failed: %v", lax.err)
		}
		if strict.err != nil {
			var e *Error
			if !errors.As(strict.err, &e) || e.Line < 1 || e.File != "f" {
				t.Fatalf("strict error without file and line: %v", strict.err)
			}
			// Lax mode either skipped the line or accepted it (an id gap).
			if skips == 0 && lax.n <= strict.n {
				t.Fatalf("strict mode failed (%v) but lax mode neither skipped nor passed it", strict.err)
			}
		}
		if lax.n < strict.n {
			t.Fatalf("lax mode yielded %d messages, strict %d", lax.n, strict.n)
		}
	})
}

type drained struct {
	n   int
	err error
}

func drain(t *testing.T, r *Reader) drained {
	var d drained
	lastLine := 0
	for {
		m, err := r.Next()
		if err == io.EOF {
			return d
		}
		if err != nil {
			d.err = err
			if _, again := r.Next(); again == nil || again.Error() != err.Error() {
				t.Fatalf("error %v not sticky: then %v", err, again)
			}
			return d
		}
		if m.Line <= lastLine {
			t.Fatalf("line %d after line %d", m.Line, lastLine)
		}
		lastLine = m.Line
		d.n++
	}
}

// trace is everything a Reader yields, for comparing two of them.
func trace(r *Reader) string {
	defer r.Close()
	var b strings.Builder
	for {
		m, err := r.Next()
		if err != nil {
			fmt.Fprintf(&b, "end: %v; skipped %d\n", err, r.Skipped())
			return b.String()
		}
		fmt.Fprintf(&b, "line %d size %d id %d rec %q pos %+v\n", m.Line, m.Size, m.ID, m.Rec, r.Position())
		for _, ev := range m.Events {
			fmt.Fprintf(&b, "  %v %v %dx%d %q\n", ev.Kind, ev.T, ev.Cols, ev.Rows, ev.Data)
		}
	}
}

// Decoding on several goroutines yields what decoding in turn does.
func FuzzParallelMatches(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s + "\n" + s + "\n\n" + s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, o := range []Options{{MaxLine: 4096}, {Lax: true, MaxLine: 4096}, {Lax: true, Rec: "r"}} {
			want := trace(New(bytes.NewReader(b), "f", o))
			o.Workers = 2
			if got := trace(New(bytes.NewReader(b), "f", o)); got != want {
				t.Fatalf("options %+v: parallel\n%s\nwant\n%s", o, got, want)
			}
		}
	})
}

// The same over many batches of lines, with blank, too long and broken
// lines among them.
func TestParallelMatches(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 3))
	lines := bytes.SplitAfter(recgen.Record("r", recgen.Split(recgen.Terminal(nil, rnd, 8<<20))), []byte("\n"))
	var in []byte
	for i, l := range lines {
		switch {
		case i%997 == 5:
			in = append(in, "\n  \n"...)
		case i > len(lines)*2/3 && i%499 == 7:
			// Strict reading ends here, after several batches.
			in = append(in, bytes.Repeat([]byte("x"), 5000)...)
			in = append(in, '\n')
		case i == len(lines)*3/4:
			in = append(in, l[:len(l)/2]...)
			in = append(in, '\n')
			continue
		}
		in = append(in, l...)
	}
	if len(lines) < 3*batchLines && len(in) < 3*batchBytes {
		t.Fatalf("only %d lines, %d bytes: one batch", len(lines), len(in))
	}
	for _, o := range []Options{{MaxLine: 4096}, {Lax: true, MaxLine: 4096}} {
		want := trace(New(bytes.NewReader(in), "f", o))
		o.Workers = 2
		if got := trace(New(bytes.NewReader(in), "f", o)); got != want {
			t.Fatalf("options %+v: parallel differs", o)
		}

	}
}
