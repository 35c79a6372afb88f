package tlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/vigil-rec/vigil/rec/msg"
	"golang.org/x/term"
)

// playTrailer is what tlog-play always writes when it exits.
const playTrailer = "\x1b[0m\x1b[?25h\n\x00"

// fileSink appends lines to a file.
type fileSink struct{ f *os.File }

func (s fileSink) WriteMessage(m *msg.Message) error {
	_, err := s.f.Write(m.Line)
	return err
}

// tlogPlay replays a recording with the real tlog-play on a raw pty and
// returns what it wrote to the terminal, trailer stripped, and how long
// playing took.
func tlogPlay(t *testing.T, path string) ([]byte, time.Duration) {
	t.Helper()
	bin, err := exec.LookPath("tlog-play")
	if err != nil {
		t.Skip("tlog-play not installed (apt-get install -y tlog): compatibility oracle unavailable")
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening pty: %v", err)
	}
	defer ptmx.Close()
	// Raw mode: no OPOST (\n stays \n) and no echo; tlog-play restores this
	// state at exit before writing its trailer.
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		t.Fatalf("raw pty: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-i", path)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatalf("starting tlog-play: %v", err)
	}
	tty.Close()
	began := time.Now()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, ptmx)
		done <- err
	}()
	werr := cmd.Wait()
	took := time.Since(began)
	// The slave side is closed once tlog-play exits: reading drains and ends with EIO.
	if err := <-done; err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading pty: %v", err)
	}
	if werr != nil {
		t.Fatalf("tlog-play failed: %v\n%s", werr, stderr.String())
	}
	b := out.Bytes()
	if !bytes.HasSuffix(b, []byte(playTrailer)) {
		t.Fatalf("tlog-play output lacks its trailer: ...%q", b[max(0, len(b)-40):])
	}
	return b[:len(b)-len(playTrailer)], took
}

type oracleWrite struct {
	t    time.Duration
	in   bool
	win  [2]int // window change if non-zero
	data []byte
}

// encodeFile encodes writes into a recording file.
func encodeFile(t *testing.T, payload int, ws []oracleWrite) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := NewEncoder(Meta{Host: "vm", Rec: "oracle", User: "root", Term: "xterm", Session: 1, Start: time.Unix(1700000000, 0)},
		Options{Payload: payload, Input: true, Output: true, Window: true}, fileSink{f})
	var last time.Duration
	for _, w := range ws {
		switch {
		case w.win != [2]int{}:
			mustNoErr(t, e.Window(w.t, w.win[0], w.win[1]))
		case w.in:
			mustNoErr(t, e.Input(w.t, w.data))
		default:
			mustNoErr(t, e.Output(w.t, w.data))
		}
		last = w.t
	}
	mustNoErr(t, e.Close(last))
	return path
}

func outputOf(ws []oracleWrite) []byte {
	var b []byte
	for _, w := range ws {
		if !w.in && w.win == [2]int{} {
			b = append(b, w.data...)
		}
	}
	return b
}

func TestTlogPlayOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tlog-play")
	}
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	var invalid [][]byte
	for _, s := range []string{
		"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", // overlong
		"\xed\xa0\x80", "\xed\xbf\xbf", // surrogates
		"\xf4\x90\x80\x80",                                 // > U+10FFFF
		"\xf5", "\xf8\x88", "\xfe", "\xff", "\x80", "\xbf", // never valid
		"\xe2\x82x", "\xf0\x9f\x98 ", "\xc3", // truncated
	} {
		invalid = append(invalid, []byte(s))
	}
	big := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog 0123456789 \"\\/\t\x1b[1mbold\x1b[0m\r\n"), 50000)
	cases := []struct {
		name    string
		payload int
		ws      []oracleWrite
		minTook time.Duration // playing must wait out the recorded delays
	}{
		{"ascii", 2048, []oracleWrite{{win: [2]int{80, 24}}, {t: 1 * ms, data: []byte("hello, world\r\n$ ")}}, 0},
		{"invalid", 2048, []oracleWrite{{data: bytes.Join(invalid, []byte("|"))}}, 0},
		{"invalid-split", 32, func() (ws []oracleWrite) {
			for i, s := range invalid {
				ws = append(ws, oracleWrite{t: time.Duration(i) * ms, data: s})
			}
			return append(ws, oracleWrite{t: 20 * ms, data: []byte("\xe2"), in: false}, oracleWrite{t: 20 * ms, data: []byte("\x82")})
		}(), 0},
		{"truncated-at-end", 2048, []oracleWrite{{data: []byte("end\xf0\x9f\x98")}}, 0},
		{"emoji-cjk", 2048, []oracleWrite{{data: []byte("😀👍🏽 日本語テキスト 한국어 € é \u2028\u00a0𝄞")}}, 0},
		{"controls", 2048, func() []oracleWrite {
			var b []byte
			for c := 0; c < 0x80; c++ {
				b = append(b, byte(c))
			}
			return []oracleWrite{{data: b}, {t: 1 * ms, data: []byte{0x7f, 0, '\n', '\r', '"', '\\', '/'}}}
		}(), 0},
		{"windows-input", 2048, []oracleWrite{
			{win: [2]int{80, 24}}, {t: 1 * ms, in: true, data: []byte("ls\r")}, {t: 1 * ms, data: []byte("ls\r\n")},
			{t: 2 * ms, win: [2]int{132, 43}}, {t: 3 * ms, data: []byte("a b c\r\n")}, {t: 3 * ms, win: [2]int{0, 1}},
			{t: 3 * ms, in: true, data: []byte("\xff\x03")}, {t: 4 * ms, data: []byte("^C\r\n")},
		}, 0},
		{"tiny-payload", 32, []oracleWrite{
			{win: [2]int{65535, 65535}}, {t: 1 * ms, data: []byte("x😀\x01\xff\xfe\xfd" + strings.Repeat("abc\"", 40))},
			{t: 2 * ms, in: true, data: []byte("typed")}, {t: 5 * ms, data: random[:3000]},
		}, 0},
		{"delays", 2048, []oracleWrite{
			{data: []byte("a")}, {t: 1500 * time.Microsecond, data: []byte("b")}, {t: 50 * ms, data: []byte("c")},
			{t: 250 * ms, data: []byte("\xe2\x82")}, {t: 300 * ms, data: []byte("\xac!")},
		}, 300 * ms},
		{"random-binary", 2048, []oracleWrite{{data: random}}, 0},
		{"huge", 4096, []oracleWrite{{data: big}, {t: 10 * ms, data: random}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := encodeFile(t, c.payload, c.ws)
			got, took := tlogPlay(t, path)
			if took < c.minTook {
				t.Errorf("tlog-play took %v, recorded delays add up to %v", took, c.minTook)
			}
			want := outputOf(c.ws)
			if !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Fatalf("tlog-play output differs at byte %d of %d/%d: got %q want %q",
					i, len(got), len(want), got[i:min(len(got), i+40)], want[i:min(len(want), i+40)])
			}
		})
	}
}

// TestTlogRecDifferential records the same single output packet with the
// real tlog-rec (pipes, so no window and one read of <= 4096 bytes) and with
// the encoder, and requires byte-identical lines: message splitting, run
// records, escaping and bin lists must all match tlog exactly.
func TestTlogRecDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tlog-rec")
	}
	bin, err := exec.LookPath("tlog-rec")
	if err != nil {
		t.Skip("tlog-rec not installed (apt-get install -y tlog): compatibility oracle unavailable")
	}
	random := make([]byte, 4000)
	_, _ = rand.Read(random)
	text := []byte(strings.Repeat("ls -l /tmp \"x\" \\ \t\x1b[0m 日本 😀 é\x7f\x00\r\n", 100))[:4000]
	mixed := []byte(strings.Repeat("ok\xc3\xa9\xe2\x82x\xed\xa0\x80\xf4\x90\x80\x80\xf0\x9f\x98\x80\xff\xc0\xaf", 200))[:4000]
	for _, c := range []struct {
		name    string
		payload int
		data    []byte
	}{
		{"random-32", 32, random}, {"random-64", 64, random}, {"random-2048", 2048, random},
		{"text-33", 33, text}, {"text-100", 100, text}, {"mixed-45", 45, mixed}, {"mixed-999", 999, mixed},
		{"truncated-tail", 40, []byte("abc\xf0\x9f\x98")},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			log := filepath.Join(dir, "tlog.jsonl")
			mustNoErr(t, os.WriteFile(in, c.data, 0o600))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--writer=file", "--file-path="+log,
				"--payload="+strconv.Itoa(c.payload), "--", "/bin/cat", in)
			cmd.Env = append(os.Environ(), "TERM=xterm")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tlog-rec: %v\n%s", err, out)
			}
			ref, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(ref, []byte("\n"))
			d, err := decodeLine(first)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Count(ref, []byte(`"pos":0,`)) != bytes.Count(ref, []byte("\n")) {
				t.Skip("tlog-rec read the data in more than one packet; not comparable")
			}
			var got collect
			e := NewEncoder(Meta{Host: d.Host, Rec: d.Rec, User: d.User, Term: d.Term, Session: d.Session, Start: d.Time},
				Options{Payload: c.payload, Output: true, Window: true}, &got)
			mustNoErr(t, e.Output(0, c.data))
			mustNoErr(t, e.Close(0))
			if g := strings.Join(got.lines(), ""); g != string(ref) {
				gl, rl := got.lines(), strings.SplitAfter(string(ref), "\n")
				for i := range min(len(gl), len(rl)) {
					if gl[i] != rl[i] {
						t.Fatalf("line %d differs (%d vs %d lines):\nvigil %s\ntlog  %s", i+1, len(gl), len(rl)-1, gl[i], rl[i])
					}
				}
				t.Fatalf("%d lines, tlog wrote %d", len(gl), len(rl)-1)
			}
		})
	}
}
