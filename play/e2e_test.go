// End-to-end tests of vigil-play on recordings made by the real recorders:
// vigil-rec (on a pty and on pipes) and Debian's tlog-rec.
package play_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vigil-rec/vigil/rec/svctest"
)

var bin string // directory of the freshly built binaries

func TestMain(m *testing.M) {
	svctest.RunWithBinaries(m, &bin, "../rec/cmd/vigil-rec", "../tests/tools/keygen", "./cmd/vigil-play")
}

// env is a recording directory and a signing key.
type env struct {
	dir, key string
}

func newEnv(t *testing.T) env {
	t.Helper()
	d := t.TempDir()
	e := env{dir: filepath.Join(d, "rec"), key: filepath.Join(d, "signing.key")}
	if err := os.Mkdir(e.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bin, "keygen"), e.key).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v: %s", err, out)
	}
	return e
}

// recArgs are vigil-rec's arguments recording cmd into the env's directory,
// signed unless sign is false.
func (e env) recArgs(sign bool, cmd ...string) []string {
	a := []string{"--config", "/dev/null", "-o", e.dir + "/"}
	if sign {
		a = append(a, "--sign-key", e.key)
	}
	return append(append(a, "--"), cmd...)
}

// newest returns the recording vigil-rec wrote last into the env's directory
// and moves it aside (so the next one is unambiguous) under name.
func (e env) take(t *testing.T, name string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(e.dir, "*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("want one new recording in %s, have %v", e.dir, m)
	}
	p := filepath.Join(filepath.Dir(e.dir), name)
	if err := os.Rename(m[0], p); err != nil {
		t.Fatal(err)
	}
	return p
}

// onTerminal runs a command on a 100x30 pty and returns all it printed.
func onTerminal(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatalf("start on a pty: %v", err)
	}
	defer ptmx.Close()
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO when the last writer closes
		out <- b
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not finish", name)
	}
	select {
	case b := <-out:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("pty output did not end")
	}
	return nil
}

// result is what a vigil-play run did.
type result struct {
	code           int
	stdout, stderr string
}

func play(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "vigil-play"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("vigil-play: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func (r result) want(t *testing.T, code int, stdoutHas ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdoutHas {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s\nstderr: %s", s, r.stdout, r.stderr)
		}
	}
}

const script = `printf 'hello\n'; printf '\377\376 \303\251\342\202\254\360\237\230\200 \342\202x\n'; sleep 0.05; ` +
	`printf '\033[1mbold\033[0m tab\there "q" \\ \n'; stty size 2>/dev/null || true`

// A vigil-rec session on a terminal: export raw is exactly what the
// terminal showed; the recording verifies OK with the key and is listed.
func TestVigilRecTerminal(t *testing.T) {
	e := newEnv(t)
	screen := onTerminal(t, filepath.Join(bin, "vigil-rec"), e.recArgs(true, "sh", "-c", script)...)
	path := e.take(t, "term.jsonl")
	if !bytes.Contains(screen, []byte("30 100")) {
		t.Fatalf("the session did not run on the sized terminal: %q", screen)
	}
	r := play(t, nil, "export", "--format", "raw", path)
	r.want(t, 0)
	if r.stdout != string(screen) {
		t.Errorf("export raw differs from the screen\nraw:    %q\nscreen: %q", r.stdout, screen)
	}
	// From standard input and into a file too.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(t.TempDir(), "out.raw")
	play(t, data, "export", "-F", "raw", "-o", outFile, "-").want(t, 0)
	if got, _ := os.ReadFile(outFile); !bytes.Equal(got, screen) {
		t.Errorf("export -o from stdin differs from the screen: %q", got)
	}
	play(t, nil, "verify", "-k", e.key+".pub", path).want(t, 0, path+": recording ", ": OK; ")
	// The asciicast export starts with the terminal's size.
	r = play(t, nil, "export", "--format", "asciicast", path)
	r.want(t, 0, `{"version":2,"width":100,"height":30,"timestamp":`)
}

// vigil-rec without a terminal: export raw is the program's stdout.
func TestVigilRecPipes(t *testing.T) {
	e := newEnv(t)
	cmd := exec.Command(filepath.Join(bin, "vigil-rec"), e.recArgs(false, "sh", "-c", script+`; head -c 300000 /dev/urandom`)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	path := e.take(t, "pipes.jsonl")
	r := play(t, nil, "export", "--format", "raw", path)
	r.want(t, 0)
	if r.stdout != stdout.String() {
		t.Errorf("export raw differs from stdout: %d bytes vs %d", len(r.stdout), stdout.Len())
	}
	// Recorded without a key: the chain is there, the signatures are not.
	play(t, nil, "verify", "-k", e.key+".pub", path).want(t, 1, ": UNSIGNED")
}

// tlogRec records a shell command with Debian's tlog-rec on pipes (no utmp
// needed) and returns the recording and what the command printed.
func tlogRec(t *testing.T, shell string) (string, []byte) {
	t.Helper()
	if _, err := exec.LookPath("tlog-rec"); err != nil {
		t.Skip("tlog-rec not installed (apt-get install -y tlog)")
	}
	path := filepath.Join(t.TempDir(), "tlog.log")
	cmd := exec.Command("tlog-rec", "-w", "file", "-o", path, "--", "sh", "-c", shell)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tlog-rec: %v: %s", err, stderr.Bytes())
	}
	return path, stdout.Bytes()
}

// Recordings by the real tlog-rec (format 2.3): export raw is what the
// program printed; they have no integrity fields.
func TestTlogRec(t *testing.T) {
	path, printed := tlogRec(t, script+`; head -c 20000 /dev/urandom; printf '\342\202'`)
	if !strings.Contains(readFile(t, path), `"ver":"2.3"`) {
		t.Fatalf("not a 2.3 recording: %s", readFile(t, path))
	}
	r := play(t, nil, "export", "--format", "raw", path)
	r.want(t, 0)
	if r.stdout != string(printed) {
		t.Errorf("export raw differs from the output: %d bytes vs %d", len(r.stdout), len(printed))
	}
	play(t, nil, "verify", "-k", newEnv(t).key+".pub", path).want(t, 1, ": UNSIGNED")
}

// A hand-written format 2.2 recording (no "time"; tlog before v9).
func TestVersion22(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.log")
	rec := `{"ver":"2.2","host":"old","rec":"r22","user":"bob","term":"vt100","session":5,"id":1,"pos":0,"timing":"=80x24>6+120]1/1>2","in_txt":"","in_bin":[],"out_txt":"hello\n\ufffdok","out_bin":[255]}` + "\n" +
		`{"ver":"2.2","host":"old","rec":"r22","user":"bob","term":"vt100","session":5,"id":2,"pos":500,"timing":"=80x24>3","in_txt":"","in_bin":[],"out_txt":"end","out_bin":[]}` + "\n"
	if err := os.WriteFile(path, []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	r := play(t, nil, "export", "--format", "raw", path)
	r.want(t, 0)
	if r.stdout != "hello\n\xffokend" {
		t.Errorf("export raw %q", r.stdout)
	}
	play(t, nil, "export", "--format", "asciicast", path).want(t, 0, `{"version":2,"width":80,"height":24,"env":{"TERM":"vt100"}}`+"\n", `[0.500,"o","end"]`)
	r = play(t, nil, "list", "-k", newEnv(t).key+".pub", path)
	r.want(t, 0)
	lines := strings.Split(r.stdout, "\n")
	want := []string{"-", "0:00:00", "bob", "old", "vt100", fmt.Sprintf("%dB", len(rec)), "UNSIGNED", "-", "r22", path}
	if len(lines) != 3 || fmt.Sprint(strings.Fields(lines[1])) != fmt.Sprint(want) {
		t.Errorf("list:\n%s\nwant the line %v", r.stdout, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

// signedSet makes a signed recording and damaged copies of it.
type signedSet struct {
	e                                env
	ok, tampered, truncated, printed string
}

func makeSigned(t *testing.T) signedSet {
	t.Helper()
	e := newEnv(t)
	// A small payload so that the recording has several messages.
	args := append([]string{"--payload", "64"}, e.recArgs(true, "sh", "-c", `echo one; sleep 0.05; seq 1 100; sleep 0.05; echo three`)...)
	cmd := exec.Command(filepath.Join(bin, "vigil-rec"), args...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	s := signedSet{e: e, ok: e.take(t, "ok.jsonl"), printed: string(out)}
	data := readFile(t, s.ok)
	lines := strings.SplitAfter(data, "\n")
	s.tampered = writeFile(t, filepath.Join(filepath.Dir(s.ok), "tampered.jsonl"), strings.Replace(data, `one\n`, `0ne\n`, 1))
	if len(lines) < 3 { // the final "" after the last newline, and at least two messages
		t.Fatalf("recording has %d lines, want several: %s", len(lines)-1, data)
	}
	s.truncated = writeFile(t, filepath.Join(filepath.Dir(s.ok), "truncated.jsonl"), strings.Join(lines[:len(lines)-2], ""))
	return s
}

func TestVerify(t *testing.T) {
	s := makeSigned(t)
	pub := s.e.key + ".pub"
	play(t, nil, "verify", "-k", pub, s.ok).want(t, 0, ": OK; ")
	play(t, nil, "verify", "-k", filepath.Dir(pub), s.ok).want(t, 0, ": OK; ") // a key directory
	play(t, nil, "verify", "-k", pub, s.tampered).want(t, 1, s.tampered+": recording ", ": MODIFIED at line 1")
	play(t, nil, "verify", "-k", pub, s.truncated).want(t, 1, ": TRUNCATED: no end message")
	// A directory stands for its recordings.
	play(t, nil, "verify", "-k", pub, filepath.Dir(s.ok)).want(t, 1, s.ok+": recording ", s.tampered+": recording ", ": MODIFIED at line 1")
	// A write cut short (crash, full disk) is a truncation, not an edit.
	data := readFile(t, s.ok)
	cut := writeFile(t, filepath.Join(filepath.Dir(s.ok), "cut.jsonl"), data[:len(data)-10])
	play(t, nil, "verify", "-k", pub, cut).want(t, 1, ": TRUNCATED at line ", "the last line is cut off after ")
	play(t, nil, "verify", "-k", newEnv(t).key+".pub", s.ok).want(t, 1, ": UNKNOWN_KEY")
	r := play(t, nil, "verify", "-k", pub, s.ok, s.tampered)
	r.want(t, 1, s.ok+": recording ", s.tampered+": recording ")
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Errorf("%d lines for two recordings:\n%s", n, r.stdout)
	}
	empty := writeFile(t, filepath.Join(t.TempDir(), "empty.jsonl"), "")
	play(t, nil, "verify", "-k", pub, empty).want(t, 1, empty+": EMPTY")
	play(t, []byte(readFile(t, s.ok)), "verify", "-k", pub, "-").want(t, 0, "-: recording ", ": OK; ")
	// Usage and read errors.
	r = play(t, nil, "verify", "-k", pub, s.ok, filepath.Join(t.TempDir(), "missing"))
	r.want(t, 2, ": OK; ")
	if !strings.Contains(r.stderr, "no such file") {
		t.Errorf("stderr %q", r.stderr)
	}
	play(t, nil, "verify", "-k", filepath.Join(t.TempDir(), "nokey.pub"), s.ok).want(t, 2)
	play(t, nil, "verify", "-k", pub).want(t, 2)
	play(t, nil, "verify", "--bogus", s.ok).want(t, 2)
	if r := play(t, nil, "verify", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Exit status: 0 every recording is OK, 1 some recording is not OK, 2 usage error") {
		t.Errorf("help lacks the exit codes: %s", r.stdout)
	}
}

// Malformed input: export stops at the bad line with FILE:LINE after
// writing everything before it; --lax skips it and says so.
func TestExportMalformed(t *testing.T) {
	s := makeSigned(t)
	lines := strings.SplitAfter(readFile(t, s.ok), "\n")
	bad := writeFile(t, filepath.Join(t.TempDir(), "bad.jsonl"), lines[0]+"{\"ver\":\"2.3\",oops\n"+strings.Join(lines[1:], ""))
	r := play(t, nil, "export", "-F", "raw", bad)
	r.want(t, 1)
	if !strings.Contains(r.stderr, bad+":2: invalid message JSON") || !strings.HasPrefix(s.printed, r.stdout) || r.stdout == "" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	r = play(t, nil, "export", "-F", "raw", "--lax", bad)
	r.want(t, 0)
	if r.stdout != s.printed || !strings.Contains(r.stderr, "skipped "+bad+":2: ") || !strings.Contains(r.stderr, "skipped 1 malformed") {
		t.Errorf("lax: stdout %q stderr %q", r.stdout, r.stderr)
	}
	// A truncated last line.
	data := readFile(t, s.ok)
	cut := writeFile(t, filepath.Join(t.TempDir(), "cut.jsonl"), data[:len(data)-40])
	r = play(t, nil, "export", "-F", "json", cut)
	r.want(t, 1)
	if n := strings.Count(data, "\n"); !strings.Contains(r.stderr, fmt.Sprintf("%s:%d: incomplete last line", cut, n)) {
		t.Errorf("stderr %q", r.stderr)
	}
	play(t, nil, "export", "-F", "mp4", s.ok).want(t, 2)
	play(t, nil, "export", s.ok).want(t, 2)
	play(t, nil, "export", "-F", "raw", filepath.Join(t.TempDir(), "missing")).want(t, 1)
}

// tlog's one-big-file layout: two recordings in one file.
func TestSharedFile(t *testing.T) {
	a, aOut := tlogRec(t, `echo first recording`)
	b, bOut := tlogRec(t, `echo second recording`)
	shared := writeFile(t, filepath.Join(t.TempDir(), "tlog.log"), readFile(t, a)+readFile(t, b))
	r := play(t, nil, "export", "-F", "raw", shared)
	r.want(t, 1)
	if !strings.Contains(r.stderr, shared+":2: ") || !strings.Contains(r.stderr, "select one with --rec") {
		t.Errorf("stderr %q", r.stderr)
	}
	var recB string
	for path, printed := range map[string][]byte{a: aOut, b: bOut} {
		var m struct{ Rec string }
		if err := json.Unmarshal([]byte(readFile(t, path)), &m); err != nil {
			t.Fatal(err)
		}
		r = play(t, nil, "export", "-F", "raw", "-m", m.Rec, shared)
		r.want(t, 0)
		if r.stdout != string(printed) {
			t.Errorf("export -m %s: %q, want %q", m.Rec, r.stdout, printed)
		}
		recB = m.Rec
	}
	r = play(t, nil, "list", "-k", newEnv(t).key+".pub", "--json", shared)
	r.want(t, 0)
	if n := strings.Count(r.stdout, "\n"); n != 2 || !strings.Contains(r.stdout, recB) {
		t.Errorf("list of the shared file:\n%s", r.stdout)
	}
}

func TestList(t *testing.T) {
	s := makeSigned(t)
	dir := filepath.Dir(s.ok)
	tlogPath, _ := tlogRec(t, `echo from tlog`)
	if err := os.Rename(tlogPath, filepath.Join(dir, "tlog.jsonl")); err != nil {
		t.Fatal(err)
	}
	pub := s.e.key + ".pub"
	r := play(t, nil, "list", "-k", pub, dir)
	r.want(t, 0, "START", "STATE", " OK ", " MODIFIED ", " TRUNCATED ", " UNSIGNED ", "ok.jsonl", "tlog.jsonl")
	if n := strings.Count(r.stdout, "\n"); n != 5 {
		t.Errorf("%d lines, want a header and 4 recordings:\n%s", n, r.stdout)
	}
	r = play(t, nil, "list", "-k", pub, "--json", dir)
	r.want(t, 0)
	var okEntry map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if strings.HasSuffix(m["file"].(string), "/ok.jsonl") {
			okEntry = m
		}
	}
	if okEntry == nil || okEntry["state"] != "OK" || okEntry["user"] == "" || okEntry["duration"].(float64) < 0.09 ||
		okEntry["size"].(float64) != float64(len(readFile(t, s.ok))) || okEntry["start"] == nil {
		t.Errorf("ok.jsonl listed as %v", okEntry)
	}
	rec := okEntry["rec"].(string)
	r = play(t, nil, "list", "-k", pub, "--rec", rec, dir)
	if n := strings.Count(r.stdout, "\n"); n != 4 || !strings.Contains(r.stdout, rec) {
		t.Errorf("--rec: want the header and 3 copies of %s:\n%s", rec, r.stdout)
	}
	hour := time.Now().Add(time.Hour).Unix()
	for _, args := range [][]string{
		{"--user", "nobody-here"}, {"--host", "no-such-host"},
		{"--since", fmt.Sprintf("@%d", hour)}, {"--until", fmt.Sprintf("@%d", hour-7200)},
	} {
		r = play(t, nil, append([]string{"list", "-k", pub, dir}, args...)...)
		r.want(t, 0)
		if n := strings.Count(r.stdout, "\n"); n != 1 {
			t.Errorf("%v matched recordings:\n%s", args, r.stdout)
		}
	}
	r = play(t, nil, "list", "-k", pub, "--since", fmt.Sprintf("@%d", hour-7200), "--user", okEntry["user"].(string), dir)
	if n := strings.Count(r.stdout, "\n"); n != 5 {
		t.Errorf("--since an hour ago: want all 4:\n%s", r.stdout)
	}
	play(t, nil, "list", "-k", pub, "--since", "yesterday", dir).want(t, 2)
	play(t, nil, "list", "-k", pub, filepath.Join(dir, "missing")).want(t, 2)
}
