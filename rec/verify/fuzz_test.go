package verify

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vigil-rec/vigil/rec/msg"
)

// seedLines is a signed recording with a plain message between anchors, drop
// and meta, plus a plain tlog line of another recording.
func seedLines(f *testing.F) [][]byte {
	s := &sink{}
	r := newRecorder(f, s, "r1", fixedKey(1))
	r.write("hello\r\n", false, msg.Drop{})
	r.write("between anchors\r\n", false, msg.Drop{})
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
		e, err := new(lineParser).line(line)
		// Strict parsing implies a well-formed JSON object line.
		if err == nil && (!json.Valid(line) || line[len(line)-1] != '\n') {
			t.Fatalf("accepted invalid line %q", line)
		}
		if err == nil && !e.plain && e.Seq == 0 {
			t.Fatal("accepted seq 0")
		}
	})
}

func FuzzRecordings(f *testing.F) {
	seed := seedLines(f)
	f.Add(bytes.Join(seed, nil))
	// The only input that can verify OK: the signed recording as written
	// (the fuzzer cannot sign).
	signed := bytes.Join(seed[:len(seed)-1], nil)
	f.Add(signed)
	f.Fuzz(func(t *testing.T, data []byte) {
		reps, err := Recordings(bytes.NewReader(data), trust(fixedKey(1)))
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) > 0 && allOK(reps) && !bytes.Equal(data, signed) {
			t.Fatalf("%q verified OK: %v", data, reps)
		}
		n := 0
		for _, r := range reps {
			n += r.Messages
		}
		// Every line is one message, except that an unterminated last
		// line may be reported as cut off instead.
		lines := bytes.Count(data, []byte("\n"))
		unterminated := len(data) > 0 && data[len(data)-1] != '\n'
		if unterminated {
			lines++
		}
		if n != lines && !(unterminated && n == lines-1) {
			t.Fatalf("%d messages counted, %d lines", n, lines)
		}
	})
}
