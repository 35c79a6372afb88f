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
	"github.com/vigil-rec/vigil/rec/tlog/tlogtest"
)

// FuzzReader feeds arbitrary input to a Reader in strict and lax mode: it
// never panics, strict mode stops at the first error with an *Error naming
// a line, and lax mode yields at least what strict mode yielded.
func FuzzReader(f *testing.F) {
	for _, s := range tlogtest.Lines {
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
	for _, s := range tlogtest.Lines {
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
