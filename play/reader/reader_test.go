package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// msgLine is a tlog 2.3 line of recording rec.
func msgLine(rec string, id, pos int, timing, outTxt string) string {
	return fmt.Sprintf(`{"ver":"2.3","host":"h","rec":%q,"user":"u","term":"xterm","session":1,"id":%d,"pos":%d,"time":1700000000.%03d,"timing":%q,"in_txt":"","in_bin":[],"out_txt":%q,"out_bin":[]}`+"\n",
		rec, id, pos, pos%1000, timing, outTxt)
}

func readAll(t *testing.T, r *Reader) (out string, n int, err error) {
	t.Helper()
	var b strings.Builder
	for {
		m, err := r.Next()
		if err == io.EOF {
			return b.String(), n, nil
		}
		if err != nil {
			return b.String(), n, err
		}
		n++
		for _, ev := range m.Events {
			if ev.Kind == tlog.KindOut {
				b.Write(ev.Data)
			}
		}
	}
}

// Recordings made by the real encoder decode to exactly the bytes written,
// and every line decodes as it decodes on its own.
func TestRoundTripRealEncoder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var data []byte
	for len(data) < 1<<20 {
		switch rnd.IntN(3) {
		case 0:
			data = append(data, "plain text \"quoted\" \\ tab\t\x1b[1m\r\n"...)
		case 1:
			data = append(data, "déjà vu 日本語 😀 €\r\n"...)
		default:
			for range rnd.IntN(64) {
				data = append(data, byte(rnd.UintN(256)))
			}
		}
	}
	rec := recgen.Record("r1", recgen.Split(data))
	r := New(bytes.NewReader(rec), "mem", Options{})
	var got bytes.Buffer
	lines := bytes.SplitAfter(rec, []byte("\n"))
	for i := 0; ; i++ {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Line != i+1 || m.Size != len(lines[i]) {
			t.Fatalf("message %d: line %d size %d, want line %d size %d", i, m.Line, m.Size, i+1, len(lines[i]))
		}
		want, err := ParseLine(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		want.Line = m.Line
		if w, g := fmt.Sprintf("%+v", *want), fmt.Sprintf("%+v", *m); w != g {
			t.Fatalf("line %d: read\n%s\ndecoded alone\n%s", i+1, g, w)
		}
		for _, ev := range m.Events {
			if ev.Kind == tlog.KindOut {
				got.Write(ev.Data)
			}
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("decoded %d bytes, recorded %d; differ", got.Len(), len(data))
	}
}

// Malformed input: one error naming file and line, after every valid
// message before it; lax mode skips the bad line and goes on.
func TestMalformed(t *testing.T) {
	ok1 := msgLine("r", 1, 0, ">2", "ab")
	ok2 := msgLine("r", 2, 10, ">2", "cd")
	ok3 := msgLine("r", 3, 20, ">2", "ef")
	for _, c := range []struct {
		name    string
		input   string
		line    int
		errText string
		out     string // output before the error
		laxOut  string // output in lax mode
		laxSkip int
	}{
		{"broken JSON", ok1 + ok2 + `{"ver":"2.3",,}` + "\n" + ok3, 3, "invalid message JSON", "abcd", "abcdef", 1},
		{"wrong type", ok1 + strings.Replace(ok2, `"session":1`, `"session":"1"`, 1) + ok3, 2, `field has invalid type: "session"`, "ab", "abef", 1},
		{"bad timing", ok1 + msgLine("r", 2, 10, ">2x", "cd") + ok3, 2, `invalid "timing"`, "ab", "abef", 1},
		{"text runs out", ok1 + msgLine("r", 2, 10, ">3", "cd") + ok3, 2, `invalid "out_txt"`, "ab", "abef", 1},
		{"bin runs out", ok1 + msgLine("r", 2, 10, "]1/1", "\ufffd") + ok3, 2, `invalid "out_bin"`, "ab", "abef", 1},
		{"unsupported version", ok1 + strings.Replace(ok2, `"2.3"`, `"3.0"`, 1) + ok3, 2, `unsupported "ver"`, "ab", "abef", 1},
		{"id gap", ok1 + ok3, 2, "id 3 follows id 1: messages are missing", "ab", "abef", 0},
		{"id repeated", ok1 + ok2 + ok2 + ok3, 3, "id 2 is out of order after id 2", "abcd", "abcdef", 1},
		{"time backwards", ok1 + msgLine("r", 2, 30, ">2", "cd") + msgLine("r", 3, 20, ">2", "ef"), 3, "packet time 20ms is before the previous packet's 30ms", "abcd", "abcd", 1},
		{"truncated last line", ok1 + ok2 + ok3[:len(ok3)/2], 3, "incomplete last line", "abcd", "abcd", 1},
		{"blank lines counted", ok1 + "\n  \r\n" + ok2 + "\n" + "x\n", 6, "invalid message JSON", "abcd", "abcd", 1},
		{"several recordings", ok1 + msgLine("s", 1, 0, ">2", "XY") + ok2, 2, "several recordings, select one with --rec", "ab", "abcd", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := readAll(t, New(strings.NewReader(c.input), "rec.jsonl", Options{}))
			want := fmt.Sprintf("rec.jsonl:%d: ", c.line)
			var e *Error
			if err == nil || !errors.As(err, &e) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.errText) {
				t.Fatalf("error %v, want %q...%q", err, want, c.errText)
			}
			if e.Line != c.line {
				t.Errorf("line %d, want %d", e.Line, c.line)
			}
			if out != c.out {
				t.Errorf("strict mode yielded %q before the error, want %q", out, c.out)
			}
			var skipped []string
			out, _, err = readAll(t, New(strings.NewReader(c.input), "rec.jsonl", Options{Lax: true, OnSkip: func(e *Error) {
				skipped = append(skipped, e.Error())
			}}))
			if err != nil || out != c.laxOut || len(skipped) != c.laxSkip {
				t.Errorf("lax: output %q error %v skipped %q; want %q and %d skipped", out, err, skipped, c.laxOut, c.laxSkip)
			}
			if c.laxSkip > 0 && !strings.HasPrefix(skipped[0], want) {
				t.Errorf("lax skip report %q, want it to start with %q", skipped[0], want)
			}
		})
	}
}

// longLine streams a line of n bytes (an out_txt that never ends) without
// holding it in memory, then rest.
type longLine struct {
	n    int
	rest string
}

func (l *longLine) Read(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		for i := range p[:k] {
			p[i] = 'x'
		}
		l.n -= k
		if l.n == 0 {
			p[k-1] = '\n'
		}
		return k, nil
	}
	if l.rest == "" {
		return 0, io.EOF
	}
	k := copy(p, l.rest)
	l.rest = l.rest[k:]
	return k, nil
}

// A 100 MB line is refused without being held in memory, after the line
// before it; lax mode skips it and reads the next.
func TestLineTooLong(t *testing.T) {
	ok1 := msgLine("r", 1, 0, ">2", "ab")
	ok2 := msgLine("r", 2, 10, ">2", "cd")
	src := io.MultiReader(strings.NewReader(ok1), &longLine{n: 100 << 20, rest: ok2})
	out, _, err := readAll(t, New(src, "big.jsonl", Options{}))
	if err == nil || !strings.HasPrefix(err.Error(), "big.jsonl:2: line longer than") || out != "ab" {
		t.Fatalf("output %q error %v", out, err)
	}
	src = io.MultiReader(strings.NewReader(ok1), &longLine{n: 100 << 20, rest: ok2})
	r := New(src, "big.jsonl", Options{Lax: true})
	out, _, err = readAll(t, r)
	if err != nil || out != "abcd" || r.Skipped() != 1 {
		t.Fatalf("lax: output %q error %v skipped %d", out, err, r.Skipped())
	}
}

// Lines longer than the read buffer but within MaxLine are assembled.
func TestLongLineAssembled(t *testing.T) {
	text := strings.Repeat("é", 300<<10)
	in := msgLine("r", 1, 0, fmt.Sprintf(">%d", 300<<10), text)
	out, n, err := readAll(t, New(strings.NewReader(in+in[:len(in)-1]), "f", Options{Lax: true}))
	if err != nil || n != 1 || out != text {
		t.Fatalf("n %d error %v, output %d bytes", n, err, len(out))
	}
}

// -m selects one recording of a shared file; messages without rec pass, and
// broken lines of other recordings do not matter (but the selected one's do).
func TestRecFilter(t *testing.T) {
	noRec := strings.Replace(msgLine("", 2, 5, ">1", "+"), `"rec":"",`, "", 1)
	in := msgLine("a", 1, 0, ">2", "ab") + msgLine("b", 1, 0, ">2", "XY") + `{"rec":"b","broken` + "\n" +
		noRec + msgLine("b", 2, 3, ">2", "ZW") + msgLine("a", 3, 10, ">2", "cd")
	out, _, err := readAll(t, New(strings.NewReader(in), "f", Options{Rec: "a"}))
	if err != nil || out != "ab+cd" {
		t.Errorf("rec a: output %q error %v, want %q", out, err, "ab+cd")
	}
	out, _, err = readAll(t, New(strings.NewReader(in), "f", Options{Rec: "b"}))
	if err == nil || !strings.HasPrefix(err.Error(), "f:3: invalid message JSON") || out != "XY" {
		t.Errorf("rec b: output %q error %v", out, err)
	}
}

// Events leaves out restated windows, keeps changes, and Peek does not
// consume.
func TestEventsAndPeek(t *testing.T) {
	in := msgLine("r", 1, 0, "=80x24>1", "a") + msgLine("r", 2, 10, "=80x24>1+5=100x30>1", "bc") + msgLine("r", 3, 20, "=100x30>1", "d")
	r := New(strings.NewReader(in), "f", Options{})
	m, err := r.Peek()
	if err != nil || m.ID != 1 || !m.Time.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("peek: %+v %v", m, err)
	}
	var got []string
	for ev, err := range r.Events() {
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case tlog.KindWindow:
			got = append(got, fmt.Sprintf("%v=%dx%d", ev.T, ev.Cols, ev.Rows))
		default:
			got = append(got, fmt.Sprintf("%v%s", ev.T, ev.Data))
		}
	}
	want := "[0s=80x24 0sa 10msb 15ms=100x30 15msc 20msd]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
}

// Format 2.2 (no "time") and integer "ver" are read.
func TestVersion22(t *testing.T) {
	in := `{"ver":"2.2","host":"h","rec":"r","user":"u","term":"xterm","session":1,"id":1,"pos":0,"timing":">3","in_txt":"","in_bin":[],"out_txt":"abc","out_bin":[]}` + "\n" +
		`{"ver":2,"host":"h","rec":"r","user":"u","term":"xterm","session":1,"id":2,"pos":7,"timing":"]1/1","in_txt":"","in_bin":[],"out_txt":"\ufffd","out_bin":[255]}` + "\n"
	r := New(strings.NewReader(in), "f", Options{})
	m, err := r.Next()
	if err != nil || m.Major != 2 || m.Minor != 2 || !m.Time.IsZero() {
		t.Fatalf("%+v %v", m, err)
	}
	m, err = r.Next()
	if err != nil || m.Ver != "2" || string(m.Events[0].Data) != "\xff" {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestOpen(t *testing.T) {
	if _, err := Open(t.TempDir()+"/missing", Options{}); err == nil {
		t.Fatal("opened a missing file")
	}
}

// A reader resumed at the Position after any message reads on as the
// reader that got there, decoding in turn or on goroutines.
func TestResume(t *testing.T) {
	rec := recgen.Record("r", recgen.Split(recgen.Terminal(nil, rand.New(rand.NewPCG(1, 1)), 64<<10)))
	rec = append(rec, "{broken\n"...)
	for _, o := range []Options{{}, {Lax: true, Workers: 2}} {
		r := New(bytes.NewReader(rec), "f", o)
		var positions []Position
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			positions = append(positions, r.Position())
		}
		r.Close()
		if len(positions) < 10 {
			t.Fatalf("%d messages", len(positions))
		}
		for _, pos := range positions {
			whole := New(bytes.NewReader(rec), "f", o)
			for whole.Position() != pos {
				if _, err := whole.Next(); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := trace(Resume(bytes.NewReader(rec[pos.Offset:]), "f", o, pos)), trace(whole); got != want {
				t.Fatalf("resumed at %+v:\n%s\nwant\n%s", pos, got, want)
			}
		}
	}
}
