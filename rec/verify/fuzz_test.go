package verify

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vigil-rec/vigil/rec/msg"
)

// seedLines is a signed recording with drop and meta, plus a plain line.
func seedLines(f *testing.F) [][]byte {
	s := &sink{}
	r := newRecorder(f, s, "r1", fixedKey(1))
	r.write("hello\r\n", false, msg.Drop{})
	if err := r.w.SetMeta(json.RawMessage(`{"cmd":"ls","vigil":{"v":2}}`)); err != nil {
		f.Fatal(err)
	}
	r.write("\x1b[0m\"x\"", true, msg.Drop{Messages: 1, Bytes: 2})
	return append(splitLines(s.buf.Bytes()), plainLine("r2", 1, "plain"))
}

func FuzzParseLine(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseLine(line)
		// Strict parsing implies a well-formed JSON object line.
		if err == nil && (!json.Valid(line) || line[len(line)-1] != '\n') {
			t.Fatalf("accepted invalid line %q", line)
		}
		if err == nil && !e.plain && e.seq == 0 {
			t.Fatal("accepted seq 0")
		}
	})
}

func FuzzRecordings(f *testing.F) {
	f.Add(bytes.Join(seedLines(f), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		reps, err := Recordings(bytes.NewReader(data), trust(fixedKey(1)))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range reps {
			n += r.Messages
		}
		// Every line, including an unterminated last one, is one message.
		want := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			want++
		}
		if n != want {
			t.Fatalf("%d messages counted, %d lines", n, want)
		}
	})
}
