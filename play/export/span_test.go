package export

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
)

// jsonEvent is one line of the JSON export.
type jsonEvent struct {
	Time       float64
	Kind       string
	Cols, Rows int
	Data       *string
	DataBase64 *string `json:"data_base64"`
}

func (e jsonEvent) data(t *testing.T) []byte {
	t.Helper()
	switch {
	case e.Data != nil:
		return []byte(*e.Data)
	case e.DataBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*e.DataBase64)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return nil
}

func parseJSON(t *testing.T, out []byte) []jsonEvent {
	t.Helper()
	var evs []jsonEvent
	for l := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		var ev jsonEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// spanFile writes a recording of chunks to a temporary file.
func spanFile(t *testing.T, chunks []recgen.Chunk) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, recgen.Record("r1", chunks), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Keyframes every 256 bytes, so that spans start from many of them.
var spanIndex = index.Options{Every: 256}

func exportSpan(t *testing.T, path string, span Span, o Options) []jsonEvent {
	t.Helper()
	var out bytes.Buffer
	o.Format = JSON
	if err := WriteJSONSpan(context.Background(), &out, path, span, o, spanIndex, nil); err != nil {
		t.Fatal(err)
	}
	return parseJSON(t, out.Bytes())
}

// A span from any time starts with the screen as it was then: played on,
// it shows what playing the whole recording shows, and the events after
// From and up to To are exactly the whole export's.
func TestJSONSpan(t *testing.T) {
	var chunks []recgen.Chunk
	for i := range 1000 {
		s := fmt.Sprintf("\x1b[3%dmline %d\x1b[0m %s\r\n", i%8, i, strings.Repeat("x", i%50))
		switch i % 40 {
		case 20:
			s += "\x1b[H\x1b[2J" // a cleared screen
		case 30:
			s += "\x1b[?1049h\x1b[Hfull screen app\x1b[5;1Hrow five" // the alternate screen
		case 39:
			s += "\x1b[?1049l"
		}
		chunks = append(chunks, recgen.Chunk{T: time.Duration(i) * 10 * time.Millisecond, Data: []byte(s)})
	}
	path := spanFile(t, chunks)
	if x, err := index.Open(context.Background(), path, spanIndex, nil); err != nil || len(x.Keyframes) < 4 {
		t.Fatalf("the index has too few keyframes to test seeking (%v)", err)
	}
	all, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := export(t, all, Options{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	whole := parseJSON(t, full)
	for _, c := range []struct{ from, to time.Duration }{
		{0, -1}, {5 * time.Millisecond, -1}, {2 * time.Second, -1}, {2005 * time.Millisecond, 4 * time.Second},
		{3255 * time.Millisecond, -1}, {5995 * time.Millisecond, -1}, {9990 * time.Millisecond, -1}, {time.Hour, -1},
		{-1, 5 * time.Second},
	} {
		t.Run(fmt.Sprintf("%v-%v", c.from, c.to), func(t *testing.T) {
			got := exportSpan(t, path, Span{From: c.from, To: c.to}, Options{})
			var scr *screen.Screen
			var want []jsonEvent
			for _, ev := range whole {
				at := time.Duration(ev.Time * float64(time.Second))
				if c.to >= 0 && at > c.to {
					continue
				}
				if at > c.from {
					want = append(want, ev)
				}
			}
			if c.from >= 0 {
				if len(got) == 0 || got[0].Kind != "screen" || got[0].Time != c.from.Seconds() {
					t.Fatalf("the span does not start with the screen at %v: %+v", c.from, got)
				}
				scr = screen.New(got[0].Cols, got[0].Rows)
				scr.Write(got[0].data(t))
				got = got[1:]
			}
			key := func(e jsonEvent) string {
				return fmt.Sprintf("%.3f %s %dx%d %q", e.Time, e.Kind, e.Cols, e.Rows, e.data(t))
			}
			if g, w := fmt.Sprint(mapSlice(got, key)), fmt.Sprint(mapSlice(want, key)); g != w {
				t.Fatalf("events after the screen:\n%.2000s\nwant\n%.2000s", g, w)
			}
			if scr == nil {
				return
			}
			ref := screen.New(80, 24)
			for _, ev := range whole {
				if c.to < 0 || time.Duration(ev.Time*float64(time.Second)) <= c.to {
					ref.Write(ev.data(t))
				}
			}
			for _, ev := range got {
				scr.Write(ev.data(t))
			}
			if g, w := scr.Lines(), ref.Lines(); !slices.Equal(g, w) {
				t.Errorf("screen from %v:\n%q\nwant\n%q", c.from, g, w)
			}
		})
	}
}

// With MaxBytes, spans come in pieces that end where the time changes;
// following each cut with the next span gives every event once.
func TestJSONSpanMaxBytes(t *testing.T) {
	var chunks []recgen.Chunk
	for i := range 400 {
		// Three writes at each time: a cut never falls between them.
		for j := range 3 {
			chunks = append(chunks, recgen.Chunk{T: time.Duration(i) * time.Millisecond, Data: fmt.Appendf(nil, "%d.%d %s\r\n", i, j, strings.Repeat("z", 40))})
		}
	}
	path := spanFile(t, chunks)
	key := func(e jsonEvent) string { return fmt.Sprintf("%.3f %s %q", e.Time, e.Kind, e.data(t)) }
	var whole []string
	for _, ev := range exportSpan(t, path, Span{From: -1, To: -1}, Options{}) {
		whole = append(whole, key(ev))
	}
	var got []string
	spans := 0
	for span := (Span{From: -1, To: -1, MaxBytes: 1000}); ; spans++ {
		evs := exportSpan(t, path, span, Options{})
		if span.From >= 0 {
			evs = evs[1:] // the screen
		}
		cut := len(evs) > 0 && evs[len(evs)-1].Kind == "cut"
		if cut {
			span.From = time.Duration(evs[len(evs)-1].Time * float64(time.Second))
			evs = evs[:len(evs)-1]
		}
		for _, ev := range evs {
			got = append(got, key(ev))
		}
		if !cut {
			break
		}
	}
	if spans < 10 {
		t.Errorf("%d spans: MaxBytes did not cut", spans)
	}
	if fmt.Sprint(got) != fmt.Sprint(whole) {
		t.Errorf("the spans' events differ from the whole export's:\n%.1000v\nwant\n%.1000v", got, whole)
	}
}

// Filtered, nothing that would make the viewer's terminal answer or set
// its clipboard comes out, not even a sequence cut in two at From.
func TestJSONSpanFiltered(t *testing.T) {
	path := spanFile(t, []recgen.Chunk{
		{T: 0, Data: []byte("safe \x1b[c\x1b]52;c;aGk=\x07")},
		{T: time.Second, Data: []byte("before \x1b]52;c;")},
		{T: 2 * time.Second, Data: []byte("cGF5bG9hZA==\x07after \x1bP$qm\x1b\\\x1b[6n done\r\n")},
	})
	for _, span := range []Span{{From: -1, To: -1}, {From: 1500 * time.Millisecond, To: -1}} {
		var out []byte
		for _, ev := range exportSpan(t, path, span, Options{Filtered: true}) {
			out = append(out, ev.data(t)...)
		}
		for _, bad := range []string{"52;", "cGF5bG9hZA", "\x1b[c", "\x1bP", "\x1b[6n"} {
			if bytes.Contains(out, []byte(bad)) {
				t.Errorf("from %v: %q passed the filter: %q", span.From, bad, out)
			}
		}
		if !bytes.Contains(out, []byte("after  done")) {
			t.Errorf("from %v: the text is gone: %q", span.From, out)
		}
	}
}

// A malformed line ends the span with the reader's error, as it ends the
// whole export.
func TestJSONSpanMalformed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, []byte(sample+"{broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := WriteJSONSpan(context.Background(), &out, path, Span{From: 0, To: -1}, Options{Format: JSON}, index.Options{Reader: reader.Options{}}, nil)
	if err == nil || !strings.Contains(err.Error(), "rec.jsonl:3: ") {
		t.Errorf("error %v, want one at line 3", err)
	}
	if evs := parseJSON(t, out.Bytes()); len(evs) < 2 || evs[0].Kind != "screen" || !strings.Contains(string(evs[len(evs)-1].data(t)), "ok") {
		t.Errorf("what came before the bad line is not all there: %+v", evs)
	}
}
