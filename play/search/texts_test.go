package search

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// lineWriter hands an encoder's lines to a bytes.Buffer.
type lineWriter struct{ b *bytes.Buffer }

func (w lineWriter) WriteMessage(m *msg.Message) error { w.b.Write(m.Line); return nil }

// textsRecording encodes events made from data: each byte picks output,
// input or a window change, and the bytes after it are the data.
func textsRecording(data []byte) []byte {
	var b bytes.Buffer
	e := tlog.NewEncoder(tlog.Meta{Host: "h", Rec: "r", User: "u", Term: "xterm", Session: 1, Start: time.Unix(1e9, 0)},
		tlog.Options{Payload: 512, Input: true, Output: true, Window: true}, lineWriter{&b})
	t := time.Duration(0)
	_ = e.Window(t, 20, 5)
	for len(data) > 0 {
		op, n := data[0], 1+int(data[0]>>3)%12
		data = data[1:]
		n = min(n, len(data))
		chunk := data[:n]
		data = data[n:]
		t += time.Millisecond
		switch op % 8 {
		case 0:
			_ = e.Window(t, 5+int(op)%40, 2+int(op>>2)%10)
		case 1, 2:
			_ = e.Input(t, chunk)
		default:
			_ = e.Output(t, chunk)
		}
	}
	_ = e.Close(t)
	return b.Bytes()
}

// checkTextsCover fails unless every text search checks in rec (every
// screen line as it changes or leaves, every version of a typed line) is
// within a text Texts gives.
func checkTextsCover(t *testing.T, rec []byte) {
	var checked []string
	o := Options{Input: true, Match: func(s string) bool { checked = append(checked, s); return false }}
	if _, err := Stream(bytes.NewReader(rec), "rec", "", o); err != nil {
		t.Fatalf("search: %v", err)
	}
	var given []string
	x := NewTexts(func(s string) { given = append(given, s) })
	for line := range bytes.Lines(rec) {
		x.Line(line)
	}
	x.Flush()
	all := strings.Join(given, "\x00")
	for _, s := range checked {
		if s == "" {
			continue
		}
		found := false
		for _, g := range given {
			if strings.Contains(g, s) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("search checks %q, in no text given (%d given: %q)", s, len(given), all)
		}
	}
}

func TestTextsCover(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc xyz\r\n\b\x7f\x15\x17\x1b[2J\x1b[1;1H\x1b[K\x1b[S\x1bc0123456789")
	for range 200 {
		data := make([]byte, 50+rnd.IntN(400))
		for i := range data {
			if rnd.IntN(4) == 0 {
				data[i] = byte(rnd.IntN(256))
			} else {
				data[i] = alphabet[rnd.IntN(len(alphabet))]
			}
		}
		checkTextsCover(t, textsRecording(data))
	}
}

// Typing a line gives its longest version, not one per key.
func TestTextsTyping(t *testing.T) {
	var b bytes.Buffer
	e := tlog.NewEncoder(tlog.Meta{Host: "h", Rec: "r", User: "u", Term: "xterm", Session: 1, Start: time.Unix(1e9, 0)},
		tlog.Options{Payload: 64, Input: true, Output: true, Window: true}, lineWriter{&b})
	_ = e.Window(0, 80, 24)
	_ = e.Output(0, []byte("$ "))
	for i, c := range "echo secret" {
		_ = e.Input(time.Duration(i)*time.Millisecond, []byte(string(c)))
		_ = e.Output(time.Duration(i)*time.Millisecond, []byte(string(c)))
	}
	_ = e.Input(time.Second, []byte("\r"))
	_ = e.Output(time.Second, []byte("\r\nsecret\r\n$ "))
	_ = e.Close(time.Second)
	var given []string
	x := NewTexts(func(s string) { given = append(given, s) })
	for line := range bytes.Lines(b.Bytes()) {
		x.Line(line)
	}
	x.Flush()
	want := []string{"echo secret", "$ echo secret", "secret", "$"}
	if strings.Join(given, "|") != strings.Join(want, "|") {
		t.Errorf("texts %q, want %q", given, want)
	}
	checkTextsCover(t, b.Bytes())
}

func FuzzTextsCover(f *testing.F) {
	f.Add([]byte("\x03hello\x0bworld\r\n\x01ab\x7fc\r\x1b[2Jx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkTextsCover(t, textsRecording(data))
	})
}

func TestLiteral(t *testing.T) {
	for _, c := range []struct {
		pattern string
		regex   bool
		want    string
	}{
		{"a.b*", false, "a.b*"},
		{"secret", true, "secret"},
		{`pass(word)?=\S+`, true, "pass"},
		{`^\s*rm -rf /tmp`, true, "rm -rf /tmp"},
		{`(?i)secret`, true, ""},
		{`a|b`, true, ""},
		{`x+yz`, true, "yz"},
		{`(`, true, ""},
		{`(abc)+d`, true, "abc"},
	} {
		if got := Literal(c.pattern, c.regex); got != c.want {
			t.Errorf("Literal(%q, %v) = %q, want %q", c.pattern, c.regex, got, c.want)
		}
	}
	// What Literal gives is in every line the pattern matches.
	match, _ := Compile(`pass(word)?=\S+`, true)
	for _, line := range []string{"pass=1", "password=x y"} {
		if !match(line) || !strings.Contains(line, Literal(`pass(word)?=\S+`, true)) {
			t.Errorf("%q", line)
		}
	}
}

// textsOf gives the texts of the lines.
func textsOf(lines ...string) ([]string, *Texts) {
	var given []string
	x := NewTexts(func(s string) { given = append(given, s) })
	for _, l := range lines {
		x.Line([]byte(l))
	}
	x.Flush()
	return given, x
}

func textsLine(rec string, id int, timing, out string) string {
	r := ""
	if rec != "" {
		r = `"rec":"` + rec + `",`
	}
	return `{"ver":"2.3","host":"h",` + r + `"user":"u","term":"xterm","session":1,"id":` + string(rune('0'+id)) +
		`,"pos":` + string(rune('0'+id)) + `,"timing":"` + timing + `","in_txt":"","in_bin":[],"out_txt":"` + out + `","out_bin":[]}`
}

// A message without rec goes on with the recording before it, as the
// reader has it: search finds "rm -rf /" across the two.
func TestTextsWithoutRec(t *testing.T) {
	lines := []string{textsLine("r", 1, "=80x24>4", "rm -"), textsLine("", 2, ">4", "rf /")}
	given, x := textsOf(lines...)
	if !slices.Contains(given, "rm -rf /") || x.Incomplete() || x.Several() {
		t.Errorf("texts %q, incomplete %v, several %v", given, x.Incomplete(), x.Several())
	}
	checkTextsCover(t, []byte(strings.Join(lines, "\n")+"\n"))
}

// What Texts keeps is bounded: a window too big, or more recordings in a
// file than it keeps screens for, make it incomplete instead.
func TestTextsBounds(t *testing.T) {
	if given, x := textsOf(textsLine("r", 1, "=512x256>4", "big!")); len(given) != 0 || !x.Incomplete() {
		t.Errorf("a 512x256 window: texts %q, incomplete %v", given, x.Incomplete())
	}
	given, x := textsOf(textsLine("a", 1, "=80x24>3", "one"), textsLine("b", 1, "=80x24>3", "two"), textsLine("c", 1, "=80x24>5", "three"))
	if !x.Incomplete() || !x.Several() || slices.Contains(given, "three") || !slices.Contains(given, "two") {
		t.Errorf("three recordings: texts %q, incomplete %v, several %v", given, x.Incomplete(), x.Several())
	}
}

// BenchmarkTexts is the collector's share of each recorded byte for
// search: log lines scrolling by, the texts given of them. Throughput is
// recording bytes per second.
func BenchmarkTexts(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 2))
	rec := recgen.Record("bench", recgen.Split(recgen.Text(nil, rnd, 8<<20)))
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		x := NewTexts(func(string) {})
		for line := range bytes.Lines(rec) {
			x.Line(line)
		}
		x.Flush()
	}
}
