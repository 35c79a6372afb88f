package export

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/reader"
)

func export(t testing.TB, rec []byte, o Options) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	err := Write(&out, reader.New(bytes.NewReader(rec), "rec.jsonl", reader.Options{}), o)
	return out.Bytes(), err
}

// line is a tlog 2.3 message line with input and output.
func line(id, pos int, timing, inTxt, outTxt, outBin string) string {
	return fmt.Sprintf(`{"ver":"2.3","host":"h","rec":"r","user":"u","term":"xterm-256color","session":1,"id":%d,"pos":%d,"time":1700000000.%03d,"timing":%s,"in_txt":%s,"in_bin":[],"out_txt":%s,"out_bin":[%s]}`+"\n",
		id, pos, pos, js(timing), js(inTxt), js(outTxt), outBin)
}

func js(s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}

// sample has a window, resize, input, invalid UTF-8 (one maximal subpart of
// two bytes, one single byte), escapes and a restated window.
var sample = line(1, 0, "=100x30>3+250<2>7]1/2", "ls", "$ \x1bls\r\n\"\\\u2028\ufffd", "226,130") +
	line(2, 1250, "=100x30+5=120x40]1/1>2", "", "\ufffdok", "255")

func TestRaw(t *testing.T) {
	out, err := export(t, []byte(sample), Options{Format: Raw})
	want := "$ \x1bls\r\n\"\\\u2028\xe2\x82\xffok"
	if err != nil || string(out) != want {
		t.Fatalf("raw %q %v, want %q", out, err, want)
	}
}

func TestAsciicastV2(t *testing.T) {
	out, err := export(t, []byte(sample), Options{Format: Asciicast, Input: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":2,"width":100,"height":30,"timestamp":1700000000,"env":{"TERM":"xterm-256color"}}
[0.000,"o","$ \u001b"]
[0.250,"i","ls"]
[0.250,"o","ls\r\n\"\\` + "\u2028\ufffd" + `"]
[1.255,"r","120x40"]
[1.255,"o","` + "\ufffd" + `ok"]
`
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	noInput, _ := export(t, []byte(sample), Options{Format: Asciicast})
	if bytes.Contains(noInput, []byte(`"i"`)) {
		t.Errorf("input exported without being asked for:\n%s", noInput)
	}
}

func TestAsciicastV3(t *testing.T) {
	out, err := export(t, []byte(sample), Options{Format: AsciicastV3, Input: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":3,"term":{"cols":100,"rows":30,"type":"xterm-256color"},"timestamp":1700000000,"env":{"TERM":"xterm-256color"}}
[0.000,"o","$ \u001b"]
[0.250,"i","ls"]
[0.000,"o","ls\r\n\"\\` + "\u2028\ufffd" + `"]
[1.005,"r","120x40"]
[0.000,"o","` + "\ufffd" + `ok"]
`
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

// Without a window record the header has the default size; a 2.2
// recording has no timestamp.
func TestAsciicastDefaults(t *testing.T) {
	in := `{"ver":"2.2","host":"h","user":"u","term":"","session":1,"id":1,"pos":0,"timing":">2","in_txt":"","in_bin":[],"out_txt":"hi","out_bin":[]}` + "\n"
	out, err := export(t, []byte(in), Options{Format: Asciicast, Cols: 132, Rows: 43})
	if want := "{\"version\":2,\"width\":132,\"height\":43}\n[0.000,\"o\",\"hi\"]\n"; err != nil || string(out) != want {
		t.Fatalf("got %q %v, want %q", out, err, want)
	}
}

// v3 intervals add up to the event times over a long recording.
func TestAsciicastV3IntervalsDoNotDrift(t *testing.T) {
	var chunks []recgen.Chunk
	for i := range 5000 {
		chunks = append(chunks, recgen.Chunk{T: time.Duration(i)*1234567*time.Nanosecond + time.Duration(i%7)*time.Microsecond, Data: []byte("x\r\n")})
	}
	rec := recgen.Record("r", chunks)
	v2, err := export(t, rec, Options{Format: Asciicast})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := export(t, rec, Options{Format: AsciicastV3})
	if err != nil {
		t.Fatal(err)
	}
	l2, l3 := strings.Split(string(v2), "\n")[1:], strings.Split(string(v3), "\n")[1:]
	if len(l2) != len(l3) || len(l2) < 100 {
		t.Fatalf("%d v2 events, %d v3 events", len(l2), len(l3))
	}
	var sumMs int64
	for i := range l2 {
		if l2[i] == "" {
			continue
		}
		var e2, e3 []any
		if err := json.Unmarshal([]byte(l2[i]), &e2); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(l3[i]), &e3); err != nil {
			t.Fatal(err)
		}
		sumMs += int64(e3[0].(float64)*1000 + 0.5)
		if abs := int64(e2[0].(float64)*1000 + 0.5); abs != sumMs {
			t.Fatalf("event %d: v2 time %d ms, v3 intervals sum to %d ms", i, abs, sumMs)
		}
	}
}

func TestJSON(t *testing.T) {
	out, err := export(t, []byte(sample), Options{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	var kinds []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		var ev struct {
			Time       float64
			Kind       string
			Data       *string
			DataBase64 *string `json:"data_base64"`
			Cols, Rows int
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		kinds = append(kinds, fmt.Sprintf("%s@%.3f", ev.Kind, ev.Time))
		if ev.Kind != "out" {
			continue
		}
		switch {
		case ev.Data != nil:
			raw = append(raw, *ev.Data...)
		case ev.DataBase64 != nil:
			b, err := base64.StdEncoding.DecodeString(*ev.DataBase64)
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, b...)
		}
	}
	want := "[window@0.000 out@0.000 in@0.250 out@0.250 window@1.255 out@1.255]"
	if fmt.Sprint(kinds) != want {
		t.Errorf("events %v, want %s", kinds, want)
	}
	rawOut, _ := export(t, []byte(sample), Options{Format: Raw})
	if !bytes.Equal(raw, rawOut) {
		t.Errorf("JSON output data %q, raw %q", raw, rawOut)
	}
}

// Malformed input: everything before the bad line is exported, then the
// reader's error.
func TestMalformedStopsAfterValidPart(t *testing.T) {
	in := sample + "{broken\n" + line(3, 2000, ">1", "", "z", "")
	for _, f := range Formats {
		out, err := export(t, []byte(in), Options{Format: f})
		if err == nil || !strings.HasPrefix(err.Error(), "rec.jsonl:3: ") {
			t.Errorf("%s: error %v", f, err)
		}
		valid, err := export(t, []byte(sample), Options{Format: f})
		if err != nil || !bytes.Equal(out, valid) {
			t.Errorf("%s: output %q, want the valid part %q (%v)", f, out, valid, err)
		}
	}
}

func TestJSONStringInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"a\xe2\x82x":         "a\ufffdx",           // maximal subpart E2 82
		"\xed\xa0\x80":       "\ufffd\ufffd\ufffd", // surrogate: ED then two stray bytes
		"\xf4\x90\x80\x80z":  "\ufffd\ufffd\ufffd\ufffdz",
		"\xc0\xaf\xff":       "\ufffd\ufffd\ufffd",
		"\xf0\x9f\x98":       "\ufffd",
		"ok\u2028\U0001F600": "ok\u2028\U0001F600",
	} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, []byte(in)), &got); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

// asciinema itself reads our asciicast v2 files and prints the recorded
// output (invalid UTF-8 as U+FFFD).
func TestAsciinemaCat(t *testing.T) {
	asciinema, err := exec.LookPath("asciinema")
	if err != nil {
		t.Skip("asciinema not installed (apt-get install -y asciinema): cannot check asciicast output with it")
	}
	out, err := export(t, []byte(sample), Options{Format: Asciicast, Input: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.cast")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	got := asciinemaCat(t, asciinema, path)
	want := "$ \x1bls\r\n\"\\\u2028\ufffd\ufffdok"
	if got != want {
		t.Fatalf("asciinema cat printed %q, want %q", got, want)
	}
}

// asciinemaCat runs `asciinema cat`, which insists on a controlling
// terminal, with a pty as its terminal and its output in a pipe.
func asciinemaCat(t *testing.T, asciinema, path string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty for asciinema: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go io.Copy(io.Discard, ptmx) //nolint:errcheck // drains what asciinema writes to the terminal
	cmd := exec.Command(asciinema, "cat", path)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	cmd.Stdin = tty
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Run(); err != nil {
		t.Fatalf("asciinema cat: %v: %s", err, stderr.Bytes())
	}
	if !utf8.Valid(stdout.Bytes()) {
		t.Errorf("asciinema printed invalid UTF-8")
	}
	return stdout.String()
}

// BenchmarkRaw exports the raw output of 16 MB recordings; throughput is
// recording bytes read per second, out-MB/s the output bytes written.
// "terminal" is escape-heavy terminal text with some UTF-8 and binary
// (about six JSON escapes per 75 bytes), "text" plain log lines; decoded in
// turn, and on two goroutines as the export command does.
func BenchmarkRaw(b *testing.B) {
	rnd := rand.New(rand.NewPCG(5, 6))
	term, text := recgen.Terminal(nil, rnd, 16<<20), recgen.Text(nil, rnd, 16<<20)
	for _, c := range []struct {
		name string
		data []byte
	}{{"terminal", term}, {"text", text}} {
		rec := recgen.Record("bench", recgen.Split(c.data))
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(b *testing.B) {
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				for b.Loop() {
					r := reader.New(bytes.NewReader(rec), "bench", reader.Options{Workers: workers})
					err := Write(io.Discard, r, Options{Format: Raw})
					r.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(c.data))*float64(b.N)/b.Elapsed().Seconds()/1e6, "out-MB/s")
			})
		}
	}
}

// A Vigil recording's end message states the exit status: asciicast v3 ends
// with it as an "x" event (v2 has no such event).
func TestAsciicastV3Exit(t *testing.T) {
	last := line(2, 1500, ">3", "", "bye", "")
	last = strings.TrimSuffix(last, "}\n") + `,"vigil":{"v":2,"seq":2,"meta":{"exit":3},"end":true,"hash":"00"}}` + "\n"
	rec := []byte(line(1, 0, ">2", "", "hi", "") + last)
	out, err := export(t, rec, Options{Format: AsciicastV3})
	if err != nil || !strings.HasSuffix(string(out), `[1.500,"o","bye"]`+"\n"+`[0.000,"x","3"]`+"\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = export(t, rec, Options{Format: Asciicast})
	if err != nil || strings.Contains(string(out), `"x"`) {
		t.Fatalf("v2: %v\n%s", err, out)
	}
	// Without an end message, or one without an exit status: no "x".
	for _, in := range []string{line(1, 0, ">2", "", "hi", ""), strings.Replace(string(rec), `"meta":{"exit":3},`, ``, 1)} {
		if out, err := export(t, []byte(in), Options{Format: AsciicastV3}); err != nil || strings.Contains(string(out), `"x"`) {
			t.Errorf("%v\n%s", err, out)
		}
	}
}
