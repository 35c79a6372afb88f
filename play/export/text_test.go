package export

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
	if out.String() != "abcd\nef\n" {
		t.Errorf("%q", out.String())
	}
}
