package search

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/reader"
)

func TestCompile(t *testing.T) {
	plain, err := Compile("a.c", false)
	if err != nil || !plain("xa.cx") || plain("abc") {
		t.Errorf("plain: %v", err)
	}
	re, err := Compile(`^a.c$`, true)
	if err != nil || !re("abc") || re("xabc") {
		t.Errorf("regex: %v", err)
	}
	if _, err := Compile("a(", true); err == nil {
		t.Error("a( compiled")
	}
}

// A line on screen is reported once while it stays, wherever scrolling
// moves it; a line that scrolls off within one write is reported too.
func TestScreenLines(t *testing.T) {
	s := &screenSearch{match: func(l string) bool { return strings.Contains(l, "needle") }}
	s.resize(20, 3)
	if got := s.write([]byte("a needle")); !slices.Equal(got, []string{"a needle"}) {
		t.Errorf("first write: %q", got)
	}
	if got := s.write([]byte("!\r\n1\r\n2\r\n3")); got != nil {
		t.Errorf("scrolled: %q", got)
	}
	if got := s.write([]byte("\r\nneedle 2\r\nx\r\ny\r\nz")); !slices.Equal(got, []string{"needle 2"}) {
		t.Errorf("scrolled off at once: %q", got)
	}
	if got := s.write([]byte("\x1b[2J\x1b[Hneedle 3\x1b[2J")); !slices.Equal(got, []string{"needle 3"}) {
		t.Errorf("cleared at once: %q", got)
	}
}

// Typed lines are rebuilt with backspace, ^U and ^W applied and escape
// sequences left out, each reported once at the key that made it match.
func TestInputLines(t *testing.T) {
	match := func(l string) bool { return strings.Contains(l, "needle") }
	var s inputSearch
	var hits []Hit
	for i, keys := range []string{"ls nee", "x\x7fdle", " \x1b[A\x1bOBmore", "\r", "needle\x15echo\x17ok needle", "\n", "not\x17needle"} {
		hits = append(hits, s.write(time.Duration(i)*time.Second, []byte(keys), match)...)
	}
	if h, ok := s.finish(); ok {
		hits = append(hits, h)
	}
	want := []Hit{{t: time.Second, Line: "ls needle more"}, {t: 4 * time.Second, Line: "ok needle"}, {t: 6 * time.Second, Line: "needle"}}
	if !slices.Equal(hits, want) {
		t.Errorf("%+v, want %+v", hits, want)
	}
}

// In a file holding two recordings, each is searched on its own and named
// so that play opens it; Rec and User pick recordings.
func TestFileShared(t *testing.T) {
	a := bytes.SplitAfter(recgen.Record("a", []recgen.Chunk{{T: 2 * time.Second, Data: []byte("needle in a")}}), []byte("\n"))
	b := bytes.SplitAfter(recgen.Record("b", []recgen.Chunk{{T: time.Second, Data: []byte("needle in b")}}), []byte("\n"))
	var shared []byte
	for i := range max(len(a), len(b)) {
		if i < len(b) {
			shared = append(shared, b[i]...)
		}
		if i < len(a) {
			shared = append(shared, a[i]...)
		}
	}
	path := filepath.Join(t.TempDir(), "shared.jsonl")
	if err := os.WriteFile(path, shared, 0o600); err != nil {
		t.Fatal(err)
	}
	match, _ := Compile("needle", false)
	hits, err := File(path, Options{Match: match})
	want := []Hit{
		{Name: path + " -m b", File: path, Rec: "b", Offset: "00:00:01.000", t: time.Second, Sec: 1, Source: "screen", Line: "needle in b"},
		{Name: path + " -m a", File: path, Rec: "a", Offset: "00:00:02.000", t: 2 * time.Second, Sec: 2, Source: "screen", Line: "needle in a"},
	}
	if err != nil || !slices.Equal(hits, want) {
		t.Fatalf("%+v, %v", hits, err)
	}
	if hits, err := File(path, Options{Match: match, Rec: "a"}); err != nil || !slices.Equal(hits, want[1:]) {
		t.Errorf("Rec a: %+v, %v", hits, err)
	}
	if hits, err := File(path, Options{Match: match, User: "nobody"}); err != nil || hits != nil {
		t.Errorf("User nobody: %+v, %v", hits, err)
	}
}

func TestPrint(t *testing.T) {
	hits := []Hit{
		{Name: "f\x1b.jsonl", File: "f\x1b.jsonl", Rec: "r", Offset: "01:02:03.004", Sec: 3723.004, Source: "screen", Line: "a\u202eb"},
		{Name: "-r journal r", Rec: "r", Offset: "00:00:01.000", Sec: 1, Source: "input", Line: "typed"},
	}
	var b bytes.Buffer
	if err := Print(&b, hits, false); err != nil {
		t.Fatal(err)
	}
	if want := `f\x1b.jsonl  +01:02:03.004  a\u202eb` + "\n-r journal r  +00:00:01.000  (typed) typed\n"; b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := Print(&b, hits, true); err != nil {
		t.Fatal(err)
	}
	if want := `{"file":"f\u001b.jsonl","rec":"r","offset":"01:02:03.004","seconds":3723.004,"source":"screen","line":"a\u202eb"}` + "\n" +
		`{"file":"","rec":"r","offset":"00:00:01.000","seconds":1,"source":"input","line":"typed"}` + "\n"; b.String() != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b.String(), want)
	}
}

// BenchmarkSearchFlood searches a recording of random bytes (cat
// /dev/urandom on a terminal) as search does; throughput is recording
// bytes read per second. Issue 11's target: a 490 MB flood in under 30 s,
// 16.3 MB/s.
func BenchmarkSearchFlood(b *testing.B) {
	rec := recgen.Record("flood", recgen.Split(recgen.Random(16<<20)))
	o := Options{Match: func(s string) bool { return strings.Contains(s, "no such text") }}
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		r := reader.New(bytes.NewReader(rec), "bench", reader.Options{Workers: 2})
		_, err := searchReader(r, Hit{}, o)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// MaxHits ends a recording's search after that many hits, with the hits
// before and ErrTooManyHits; exactly MaxHits hits are no error.
func TestMaxHits(t *testing.T) {
	var chunks []recgen.Chunk
	for i := range 50 {
		chunks = append(chunks, recgen.Chunk{T: time.Duration(i) * time.Second, Data: []byte("needle\r\n")})
	}
	data := recgen.Record("r", chunks)
	match, _ := Compile("needle", false)
	for _, c := range []struct {
		max, hits int
		err       bool
	}{{0, 50, false}, {50, 50, false}, {49, 49, true}, {10, 10, true}} {
		hits, err := Stream(bytes.NewReader(data), "f", "", Options{Match: match, MaxHits: c.max})
		if len(hits) != c.hits || errors.Is(err, ErrTooManyHits) != c.err {
			t.Errorf("MaxHits %d: %d hits, %v; want %d, error %v", c.max, len(hits), err, c.hits, c.err)
		}
	}
}
