package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/reader"
)

func TestTextFormat(t *testing.T) {
	if f, err := ParseFormat("text"); err != nil || f != Text {
		t.Fatalf("ParseFormat(text) = %q, %v", f, err)
	}
}

// The transcript shows what was on screen: colours, carriage-return
// overwrites (a progress counter) and cursor movements are rendered, lines
// that scroll off come first, a cleared screen is kept, and the screen's
// final contents end it.
func TestTextTranscript(t *testing.T) {
	ms := time.Millisecond
	chunks := []recgen.Chunk{
		{T: 0, Data: []byte("\x1b[1;32muser@vm\x1b[0m:\x1b[34m~\x1b[0m$ ")},
		{T: 100 * ms, Data: []byte("lz\b\x1b[Ks\r\n")},
		{T: 150 * ms, Data: []byte("\x1b[31mred.txt\x1b[0m  blue.txt\r\n")},
	}
	for i := 0; i <= 100; i += 25 {
		chunks = append(chunks, recgen.Chunk{T: time.Duration(200+i) * ms, Data: fmt.Appendf(nil, "\rprogress %3d%%", i)})
	}
	chunks = append(chunks, recgen.Chunk{T: 400 * ms, Data: []byte("\r\ntable: a\r\n       b\x1b[A\x1b[3Cx\x1b[B\r\n")})
	// 30 numbered lines scroll the first ones off the 80x24 screen.
	var many strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&many, "line %d\r\n", i)
	}
	chunks = append(chunks, recgen.Chunk{T: 500 * ms, Data: []byte(many.String())},
		recgen.Chunk{T: 600 * ms, Data: []byte("$ clear\r\n\x1b[H\x1b[2J\x1b[3J$ exit\r\n")})
	out, err := export(t, recgen.Record("r", chunks), Options{Format: Text})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user@vm:~$ ls", "red.txt  blue.txt", "progress 100%", "table: a   x", "       b"}
	for i := 1; i <= 30; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "$ clear", "$ exit")
	if got := string(out); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if strings.Contains(string(out), "\x1b") {
		t.Error("escape codes in the transcript")
	}
}

// Output before any window uses Options.Cols×Rows; malformed input ends
// the transcript with the screen so far and the reader's error.
func TestTextMalformed(t *testing.T) {
	rec := line(1, 0, ">6", "", "abcdef", "") + "{broken\n"
	var out strings.Builder
	err := Write(&out, reader.New(strings.NewReader(rec), "rec.jsonl", reader.Options{}), Options{Format: Text, Cols: 4, Rows: 2})
	var re *reader.Error
	if !errors.As(err, &re) || re.Line != 2 {
		t.Fatalf("error %v", err)
	}
	// The output wrapped from one row to the next: one line.
	if out.String() != "abcdef\n" {
		t.Errorf("%q", out.String())
	}
}

// window is a recording of one output at window cols×rows.
func window(cols, rows int, out string) []byte {
	return []byte(line(1, 0, fmt.Sprintf("=%dx%d>%d", cols, rows, utf8.RuneCountInString(out)), "", out, ""))
}

// Nothing the recorded user writes, and no window size, keeps a line out
// of the transcript (issue 11): each case shows "secret" and then tries
// to make it vanish.
func TestTextKeepsEveryLine(t *testing.T) {
	const secret = "$ cat secret\r\nsecret text\r\n"
	for _, c := range []struct {
		name       string
		cols, rows int
		out        string
	}{
		{"0x0 window", 0, 0, secret},
		{"65535x65535 window", 65535, 65535, secret + "\x1b[65535;65535Hx"},
		{"1x1 window", 1, 1, secret},
		{"scroll up 999", 80, 24, secret + "\x1b[999S"},
		{"reset", 80, 24, secret + "\x1bc"},
		{"erase display", 80, 24, secret + "\x1b[H\x1b[2J\x1b[3J"},
		{"erase below from home", 80, 24, secret + "\x1b[H\x1b[J"},
		{"alternate screen", 80, 24, "\x1b[?1049h\x1b[H\x1b[2J" + secret + "\x1b[?1049l"},
		{"tmux scroll region", 80, 24, "\x1b[1;23r\x1b[23;1H" + secret + strings.Repeat("\n", 30)},
		{"padded across the wrap", 80, 24, strings.Repeat(" ", 77) + secret},
		{"negative parameters (vt10x panicked)", 80, 24, secret + "\r\x1b[-1P\x1b[-5@\x1b[-1;-1H\x1b[99999999999999999999I"},
	} {
		out, err := export(t, window(c.cols, c.rows, c.out+"\r\ncover"), Options{Format: Text})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !strings.Contains(string(out), "secret text") || !strings.Contains(string(out), "$ cat secret") {
			t.Errorf("%s: the transcript lost the lines:\n%s", c.name, out)
		}
	}
}

// A full-screen program redrawing the same screen, or clear in a loop,
// leaves one copy; blank lines come one at a time.
func TestTextNoRepaintCopies(t *testing.T) {
	var b strings.Builder
	for range 50 {
		b.WriteString("\x1b[H\x1b[2Jtop - load 0.1\r\n\r\n\r\n  PID USER\r\n")
	}
	b.WriteString("\x1b[H\x1b[2Jtop - load 0.2\r\n")
	b.WriteString("\x1b[10S\r\n\r\n\r\nend\r\n")
	out, err := export(t, window(80, 24, b.String()), Options{Format: Text})
	if err != nil {
		t.Fatal(err)
	}
	want := "top - load 0.1\n\n  PID USER\ntop - load 0.2\n\nend\n"
	if string(out) != want {
		t.Errorf("transcript:\n%q\nwant\n%q", out, want)
	}
}

// BenchmarkTextFlood exports the text of a recording of random bytes (cat
// /dev/urandom on a terminal), on two goroutines as the export command
// does; throughput is recording bytes read per second. Issue 11's target:
// a 490 MB flood in under 30 s, 16.3 MB/s.
func BenchmarkTextFlood(b *testing.B) {
	rec := recgen.Record("flood", recgen.Split(recgen.Random(16<<20)))
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		r := reader.New(bytes.NewReader(rec), "bench", reader.Options{Workers: 2})
		err := Write(io.Discard, r, Options{Format: Text})
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}
