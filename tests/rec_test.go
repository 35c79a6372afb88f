package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/tlog"
	"github.com/vigil-rec/vigil/rec/verify"
)

// recEnv is a recording directory and a signing key for one test.
type recEnv struct {
	dir, key string
}

func newRecEnv(t *testing.T) recEnv {
	t.Helper()
	d := t.TempDir()
	e := recEnv{dir: filepath.Join(d, "rec") + "/", key: filepath.Join(d, "signing.key")}
	if err := os.Mkdir(e.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binPath("keygen"), e.key).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v: %s", err, out)
	}
	return e
}

// args are vigil-rec's options for this environment, before the command.
func (e recEnv) args(extra ...string) []string {
	return append([]string{"--config", "/dev/null", "-o", e.dir, "--sign-key", e.key}, extra...)
}

// only returns the single recording file.
func (e recEnv) only(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(e.dir + "*.jsonl")
	if len(m) != 1 {
		t.Fatalf("want exactly one recording in %s, have %v", e.dir, m)
	}
	return m[0]
}

// verifyOK checks the recording's chain and signatures and returns the report.
func (e recEnv) verifyOK(t *testing.T, path string) verify.Report {
	t.Helper()
	trusted, err := keys.LoadPublic(e.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reports, err := verify.Recordings(f, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].State != verify.OK {
		t.Fatalf("verify %s: %v", path, reports)
	}
	return reports[0]
}

// decode returns every event of a recording, in order.
func decode(t *testing.T, path string) []tlog.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ev []tlog.Event
	br := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			// A Decoder per line: the events' data alias its buffers.
			var d tlog.Decoder
			var m tlog.Message
			if perr := d.Decode(line, &m); perr != nil {
				t.Fatalf("%s:%d: %v", path, n, perr)
			}
			ev = append(ev, m.Events...)
		}
		if err != nil {
			return ev
		}
	}
}

func outputOf(ev []tlog.Event) []byte {
	var b bytes.Buffer
	for _, e := range ev {
		if e.Kind == tlog.KindOut {
			b.Write(e.Data)
		}
	}
	return b.Bytes()
}

// A session on a terminal: tlog-play replays exactly what the user saw,
// including invalid UTF-8, emoji and escape sequences; the exit status is
// the shell's; the recording verifies.
func TestRecTerminalSessionReplaysExactly(t *testing.T) {
	e := newRecEnv(t)
	script := `printf 'hello\n'; printf '\377\376 \303\251\342\202\254\360\237\230\200 \342\202\n'; sleep 0.05; ` +
		`printf '\033[1mbold\033[0m tab\there\n'; stty size; exit 3`
	term := startTerminal(t, 100, 30, binPath("vigil-rec"), e.args("--", "sh", "-c", script)...)
	if got := term.wait(30 * time.Second); got != 3 {
		t.Fatalf("exit status %d, want 3; screen %q", got, term.screen())
	}
	screen := term.screen()
	if !bytes.Contains(screen, []byte("30 100")) {
		t.Errorf("the session's pty did not get the terminal's size: %q", screen)
	}
	path := e.only(t)
	if played := tlogPlay(t, "-i", path); !bytes.Equal(played, screen) {
		t.Errorf("tlog-play replay differs from the screen\nplayed: %q\nscreen: %q", played, screen)
	}
	if rec := outputOf(decode(t, path)); !bytes.Equal(rec, screen) {
		t.Errorf("decoded output differs from the screen\nrec:    %q\nscreen: %q", rec, screen)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("recording mode %v, want 0640", fi.Mode().Perm())
	}
	r := e.verifyOK(t, path)
	if meta := fmt.Sprintf("%s", r.Meta); !strings.Contains(meta, `"exit":3`) || !strings.Contains(meta, `"mode":"pty"`) {
		t.Errorf("recorder metadata lacks the mode or exit status: %s", meta)
	}
}

// A window resize during the session reaches the shell and the recording.
func TestRecWindowChange(t *testing.T) {
	e := newRecEnv(t)
	term := startTerminal(t, 80, 24, binPath("vigil-rec"),
		e.args("--", "sh", "-c", `stty size; echo ready; read x; stty size`)...)
	term.waitFor("ready", 10*time.Second)
	if err := pty.Setsize(term.ptmx, &pty.Winsize{Cols: 132, Rows: 43}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	term.typeText("go\r")
	if got := term.wait(10 * time.Second); got != 0 {
		t.Fatalf("exit %d: %q", got, term.screen())
	}
	if !bytes.Contains(term.screen(), []byte("43 132")) {
		t.Errorf("resize did not reach the session: %q", term.screen())
	}
	var sizes []string
	for _, ev := range decode(t, e.only(t)) {
		if ev.Kind == tlog.KindWindow {
			sizes = append(sizes, fmt.Sprintf("%dx%d", ev.Cols, ev.Rows))
		}
	}
	if len(sizes) < 2 || sizes[0] != "80x24" || sizes[len(sizes)-1] != "132x43" {
		t.Errorf("window records %v, want 80x24 first and 132x43 last", sizes)
	}
}

// Without a terminal, stdin, stdout and stderr stay separate and byte-exact.
func TestRecPipesByteExact(t *testing.T) {
	e := newRecEnv(t)
	in := make([]byte, 3<<20)
	if _, err := rand.Read(in); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath("vigil-rec"), e.args("--log-input", "--", "sh", "-c", `cat; printf 'to stderr\377' >&2; exit 7`)...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit: %v, want status 7; stderr %q", err, stderr.String())
	}
	if !bytes.Equal(stdout.Bytes(), in) {
		t.Errorf("stdout is not byte-exact: %d bytes in, %d out", len(in), stdout.Len())
	}
	if stderr.String() != "to stderr\377" {
		t.Errorf("stderr = %q", stderr.String())
	}
	path := e.only(t)
	ev := decode(t, path)
	var input bytes.Buffer
	for _, x := range ev {
		if x.Kind == tlog.KindIn {
			input.Write(x.Data)
		}
	}
	if !bytes.Equal(input.Bytes(), in) {
		t.Errorf("recorded input differs: %d of %d bytes", input.Len(), len(in))
	}
	// stdout and stderr are relayed independently, so the 10-byte stderr
	// write may land anywhere among the stdout chunks, but in one piece.
	out := outputOf(ev)
	i := bytes.Index(out, []byte("to stderr\377"))
	if i < 0 || !bytes.Equal(append(bytes.Clone(out[:i]), out[i+10:]...), in) {
		t.Errorf("recorded output differs: %d bytes, stderr at %d", len(out), i)
	}
	e.verifyOK(t, path)
}

// Exit status like a shell: 128+signal for a command killed by a signal.
func TestRecExitStatusSignal(t *testing.T) {
	e := newRecEnv(t)
	cmd := exec.Command(binPath("vigil-rec"), e.args("--", "sh", "-c", `kill -TERM $$`)...)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit: %v, want %d", err, 128+int(syscall.SIGTERM))
	}
	e.verifyOK(t, e.only(t))
}

// 50 MB of random binary through the recorder: nothing stalls, the stream
// arrives unchanged, and the recording decodes to the same bytes.
func TestRecBinaryFlood(t *testing.T) {
	e := newRecEnv(t)
	// The recorder's own speed: the default rate limit would slow it down.
	cmd := exec.Command(binPath("vigil-rec"), e.args("--limit-action=pass", "--", "sh", "-c", `head -c 50000000 /dev/urandom | tee /dev/stderr`)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("vigil-rec: %v", err)
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("vigil-rec stalled on binary output")
	}
	if stdout.Len() != 50000000 || !bytes.Equal(stdout.Bytes(), stderr.Bytes()) {
		t.Fatalf("stdout %d bytes, stderr %d bytes, want 50000000 identical", stdout.Len(), stderr.Len())
	}
	path := e.only(t)
	out := outputOf(decode(t, path))
	// The two streams interleave in the recording; each byte is there once.
	if len(out) != 2*50000000 {
		t.Fatalf("recording holds %d output bytes, want %d", len(out), 2*50000000)
	}
	e.verifyOK(t, path)
}

// Rate limiting with drop leaves a signed account of what was dropped, and
// tlog-play --lax still plays what was kept.
func TestRecRateLimitDrop(t *testing.T) {
	e := newRecEnv(t)
	cmd := exec.Command(binPath("vigil-rec"), e.args("--limit-action=drop", "--limit-rate=1000", "--limit-burst=3000",
		"--", "sh", "-c", `head -c 2000000 /dev/zero | tr '\0' x`)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 2000000 {
		t.Fatalf("the user got %d bytes, want all 2000000 (drop limits the log, not the session)", stdout.Len())
	}
	path := e.only(t)
	r := e.verifyOK(t, path)
	if r.Dropped.Messages == 0 || r.Dropped.Bytes == 0 {
		t.Fatalf("no drop record: %v", r)
	}
	played := tlogPlay(t, "--lax", "-i", path)
	if len(played) == 0 || len(played) >= 2000000 {
		t.Errorf("tlog-play --lax played %d bytes", len(played))
	}
}

// SIGTERM to the recorder ends the session cleanly: the session is hung
// up, the final signed message is written and the recording verifies.
func TestRecSignalEndsCleanly(t *testing.T) {
	e := newRecEnv(t)
	term := startTerminal(t, 80, 24, binPath("vigil-rec"), e.args("--", "sh", "-c", `echo started; sleep 60`)...)
	term.waitFor("started", 10*time.Second)
	if err := term.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := term.wait(15 * time.Second); got != 128+int(syscall.SIGHUP) {
		t.Errorf("exit status %d, want %d (the shell was hung up)", got, 128+int(syscall.SIGHUP))
	}
	r := e.verifyOK(t, e.only(t))
	if !strings.Contains(fmt.Sprintf("%s", r.Meta), `"exit":129`) {
		t.Errorf("final metadata %s", r.Meta)
	}
}

// The file sink gathers lines into batches; whatever the session printed is
// in the file within the recording's latency all the same, while the
// session goes on.
func TestRecWrittenWithinLatency(t *testing.T) {
	e := newRecEnv(t)
	const n = 300000
	cmd := exec.Command(binPath("vigil-rec"), e.args("--latency=1", "--", "sh", "-c",
		fmt.Sprintf(`head -c %d /dev/zero | tr '\0' x; echo; echo flood-done; exec sleep 60`, n))...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() { _, _ = io.Copy(io.Discard, r) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		if m, _ := filepath.Glob(e.dir + "*.jsonl"); len(m) == 1 {
			got = bytes.Count(outputOf(decode(t, m[0])), []byte("x"))
		}
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recording holds %d of %d output bytes 10 s after the flood (latency 1 s)", got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	e.verifyOK(t, e.only(t))
}

// sign.anchor_every = 1 puts the chain's fields on every message; by default
// most messages are plain tlog lines between anchors. Both verify.
func TestRecAnchorEvery(t *testing.T) {
	for _, tc := range []struct {
		every string
		all   bool
	}{{"1", true}, {"256", false}} {
		e := newRecEnv(t)
		cmd := exec.Command(binPath("vigil-rec"), e.args("--payload=64", "--anchor-every="+tc.every, "--",
			"sh", "-c", `i=0; while [ $i -lt 100 ]; do echo "line $i of the output"; i=$((i+1)); done`)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("vigil-rec: %v: %s", err, out)
		}
		path := e.only(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		anchors := bytes.Count(data, []byte(chain.Marker+","))
		if len(lines) < 20 || (anchors == len(lines)) != tc.all {
			t.Errorf("anchor_every %s: %d anchors in %d lines", tc.every, anchors, len(lines))
		}
		e.verifyOK(t, path)
	}
}

// vigil-rec reads TLOG_REC_CONF_TEXT as tlog-rec does, including Debian's
// stock /etc/tlog/tlog-rec.conf (comments, a trailing comma), and not
// tlog-rec-session's variable; a text tlog would refuse is refused, naming
// the variable and line.
func TestRecTlogConfText(t *testing.T) {
	stock, err := os.ReadFile("/etc/tlog/tlog-rec.conf")
	if err != nil {
		t.Skipf("Debian's tlog package (make deps): %v", err)
	}
	run := func(env ...string) (string, error) {
		cmd := exec.Command(binPath("vigil-rec"), "--config", "/dev/null", "--configuration")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("TLOG_REC_CONF_TEXT=" + string(stock)); err != nil {
		t.Errorf("Debian's tlog-rec.conf: %v\n%s", err, out)
	}
	if out, err := run("TLOG_REC_CONF_TEXT={\"latency\": 7,\n}", "TLOG_REC_SESSION_CONF_TEXT={\"latency\": 9}"); err != nil || !strings.Contains(out, `"latency": 7,`) {
		t.Errorf("TLOG_REC_CONF_TEXT not applied (or the session's variable was): %v\n%s", err, out)
	}
	if out, err := run("TLOG_REC_CONF_TEXT={\n\"latency\": 7,,\n}"); err == nil || !strings.Contains(out, "TLOG_REC_CONF_TEXT:3: ") {
		t.Errorf("a text tlog refuses was accepted: %v\n%s", err, out)
	}
}

// vigil-play verify run by a user who cannot read the trusted keys says so,
// instead of checking without keys and calling every recording UNKNOWN_KEY.
func TestVerifyKeysUnreadable(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	policyHost(t) // the namespace's own /etc
	if err := os.MkdirAll("/etc/vigil/keys", 0o750); err != nil {
		t.Fatal(err)
	}
	e := newRecEnv(t)
	pub, err := os.ReadFile(e.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/etc/vigil/keys/host.pub", string(pub))
	rec := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(rec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(rec), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath("vigil-play"), "verify", rec)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "/etc/vigil/keys: permission denied") {
		t.Errorf("verify as nobody: %v\n%s", err, out)
	}
}
