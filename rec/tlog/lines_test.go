package tlog

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Lines keep their '\n', the last may lack it, a line over the bound is
// skipped whole and reading goes on; lines and bytes are counted.
func TestLineReader(t *testing.T) {
	in := "a\n" + strings.Repeat("x", 40) + "\n\nbb\n" + strings.Repeat("y", 20) + "\nlast"
	lr := NewLineReader(strings.NewReader(in), 16, 30)
	var got []string
	for {
		line, err := lr.ReadLine()
		if err == io.EOF {
			break
		}
		var tl *TooLongError
		if errors.As(err, &tl) {
			got = append(got, "TOO LONG")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	want := []string{"a\n", "TOO LONG", "\n", "bb\n", strings.Repeat("y", 20) + "\n", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	if lr.Line != 6 || lr.Off != int64(len(in)) {
		t.Errorf("counted %d lines, %d bytes; want 6, %d", lr.Line, lr.Off, len(in))
	}
}

// Lines splits data in memory as LineReader reads it.
func TestLines(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b strings.Builder
		for range rnd.IntN(20) {
			b.WriteString(strings.Repeat("x", rnd.IntN(50)))
			if rnd.IntN(8) > 0 {
				b.WriteByte('\n')
			}
		}
		in := b.String()
		const max = 30
		var want []string
		lr := NewLineReader(strings.NewReader(in), 16, max)
		for {
			line, err := lr.ReadLine()
			if err == io.EOF {
				break
			}
			want = append(want, fmt.Sprintf("%q %v", line, err))
		}
		var got []string
		for line, err := range Lines([]byte(in), max) {
			got = append(got, fmt.Sprintf("%q %v", line, err))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Lines(%q) = %q, LineReader %q", in, got, want)
		}
	}
}

func TestGuessRec(t *testing.T) {
	for line, want := range map[string]string{
		`{"ver":"2.3","rec":"abc-1","id":1`: "abc-1",
		`garbage "rec":"x-2" more`:          "x-2",
		`{"rec":"esc\"aped"}`:               "",
		`{"rec":1}`:                         "",
	} {
		got, ok := GuessRec([]byte(line))
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", line, got, ok, want)
		}
	}
}
