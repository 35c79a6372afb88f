package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/rec/svctest"
)

var bin string // directory of the freshly built vigil-rec and vigil-play

func TestMain(m *testing.M) {
	svctest.RunWithBinaries(m, &bin, "../../../rec/cmd/vigil-rec", ".")
}

// tlogLine is a message of recording "r" on an 80x24 terminal.
func tlogLine(id, posMs int, timing, out string) string {
	return fmt.Sprintf(`{"ver":"2.3","host":"h","rec":"r","user":"u","term":"xterm","session":1,"id":%d,"pos":%d,`+
		`"timing":%q,"in_txt":"","in_bin":[],"out_txt":%q,"out_bin":[]}`+"\n", id, posMs, timing, out)
}

func writeTemp(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rec.json")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// longPause is "first", then "second" 30 s later.
func longPause(t *testing.T) string {
	return writeTemp(t, tlogLine(1, 0, "=80x24>6", "first\n")+tlogLine(2, 30000, ">7", "second\n"))
}

// ptyPlay is vigil-play running with its output (and, unless stdin is
// given, its input) on a 100x30 pty.
type ptyPlay struct {
	t      *testing.T
	cmd    *exec.Cmd
	ptmx   *os.File
	tty    *os.File
	start  time.Time
	mu     sync.Mutex
	seen   bytes.Buffer
	read   chan struct{}
	stderr bytes.Buffer
}

func startPlay(t *testing.T, stdin *os.File, args ...string) *ptyPlay {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	p := &ptyPlay{t: t, ptmx: ptmx, tty: tty, read: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, "vigil-play"), args...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, &p.stderr
	if stdin != nil {
		p.cmd.Stdin = stdin
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.read)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			p.mu.Lock()
			p.seen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once the tty is closed and drained
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		tty.Close()
		ptmx.Close()
	})
	return p
}

func (p *ptyPlay) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String()
}

func (p *ptyPlay) waitFor(want string) {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(p.screen(), want) {
			return
		}
	}
	// stderr is still being written to: read only to explain a failure.
	p.t.Fatalf("the screen never showed %q: %q\nstderr: %q", want, p.screen(), p.stderr.String())
}

// wait waits for vigil-play to exit with status 0 and returns all it
// printed and how long it ran. The terminal must be back in cooked mode.
func (p *ptyPlay) wait() (string, time.Duration) {
	p.t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Fatalf("vigil-play: %v; stderr %q", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		p.t.Fatalf("vigil-play did not end; screen %q", p.screen())
	}
	took := time.Since(p.start)
	tio, err := unix.IoctlGetTermios(int(p.tty.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatal(err)
	}
	if tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != unix.ECHO|unix.ICANON|unix.ISIG || tio.Oflag&unix.OPOST == 0 {
		p.t.Errorf("terminal left in raw mode: lflag %#x oflag %#x", tio.Lflag, tio.Oflag)
	}
	p.tty.Close()
	select {
	case <-p.read:
	case <-time.After(5 * time.Second):
		p.t.Fatal("pty output did not end")
	}
	return p.screen(), took
}

// record runs a shell command under vigil-rec on a pty and returns the
// recording file and the raw output exported from it.
func record(t *testing.T, shell string) (string, string) {
	t.Helper()
	dir := t.TempDir() + "/"
	cmd := exec.Command(filepath.Join(bin, "vigil-rec"), "--config", "/dev/null", "-o", dir, "--", "sh", "-c", shell)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	go func() { _, _ = io.Copy(io.Discard, ptmx) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vigil-rec: %v", err)
	}
	m, _ := filepath.Glob(dir + "*.jsonl")
	if len(m) != 1 {
		t.Fatalf("want one recording, have %v", m)
	}
	code, out, errOut := runCLI("", "export", "--format", "raw", m[0])
	if code != 0 || !strings.Contains(out, "three") {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	return m[0], out
}

func runCLI(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// Half a second between each line, with attributes left on at the end.
const shortSession = `printf 'one\n'; sleep 0.5; printf '\033[1mtwo\n'; sleep 0.5; printf 'three\n'`

func TestPlayPty(t *testing.T) {
	file, raw := record(t, shortSession)

	// Exactly the recorded bytes (no \n to \r\n added: raw mode), then
	// the reset.
	got, fast := startPlay(t, nil, "play", "--speed", "1000", file).wait()
	if got != raw+exitSequence {
		t.Errorf("played %q\nwant %q", got, raw+exitSequence)
	}
	_, normal := startPlay(t, nil, file).wait() // play is the default
	if normal < 950*time.Millisecond || fast > normal/2 {
		t.Errorf("played in %v at 1x and %v at 1000x; the recording lasts 1 s", normal, fast)
	}
	_, double := startPlay(t, nil, "-s", "2", file).wait()
	if double < 450*time.Millisecond || double > normal-300*time.Millisecond {
		t.Errorf("played in %v at 2x, %v at 1x", double, normal)
	}
}

func TestPlayKeys(t *testing.T) {
	file := longPause(t)
	p := startPlay(t, nil, file)
	p.waitFor("first")
	if _, err := p.ptmx.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	got, took := p.wait()
	if got != "first\n"+exitSequence || took > 10*time.Second {
		t.Errorf("q: played %q in %v", got, took)
	}

	// G goes to the end at once.
	p = startPlay(t, nil, file)
	p.waitFor("first")
	if _, err := p.ptmx.Write([]byte("G")); err != nil {
		t.Fatal(err)
	}
	if got, took := p.wait(); got != "first\nsecond\n"+exitSequence || took > 10*time.Second {
		t.Errorf("G: played %q in %v", got, took)
	}
}

// ← goes back (here to the start, repainting the screen), with the index
// built and cached beside the recording.
func TestPlaySeekBack(t *testing.T) {
	file := writeTemp(t, tlogLine(1, 0, "=80x24>6", "first\n")+tlogLine(2, 500, ">7", "second\n")+tlogLine(3, 60000, ">6", "third\n"))
	p := startPlay(t, nil, file)
	p.waitFor("second")
	if _, err := p.ptmx.Write([]byte("\x1b[D")); err != nil {
		t.Fatal(err)
	}
	p.waitFor("\x1b[2J")
	if _, err := p.ptmx.Write([]byte("G")); err != nil {
		t.Fatal(err)
	}
	// The start again, then the end (repainted from its keyframe).
	got, took := p.wait()
	if !strings.HasPrefix(got, "first\nsecond\n\x1b") || !strings.Contains(got, "\x1b[2Jfirst\n") ||
		!strings.Contains(got, "third") || !strings.HasSuffix(got, exitSequence) || took > 10*time.Second {
		t.Errorf("played %q in %v", got, took)
	}
	if _, err := os.Stat(file + ".vpidx"); err != nil {
		t.Errorf("no index cached: %v", err)
	}
}

func TestPlayGotoEnd(t *testing.T) {
	got, took := startPlay(t, nil, "--goto", "end", longPause(t)).wait()
	if got != "first\nsecond\n"+exitSequence || took > 5*time.Second {
		t.Errorf("--goto end: played %q in %v", got, took)
	}
	got, took = startPlay(t, nil, "-g", "29.9", longPause(t)).wait()
	if got != "first\nsecond\n"+exitSequence || took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("--goto 29.9: played %q in %v", got, took)
	}
}

// With standard input at its end, vigil-play plays without reading keys
// and without burning the CPU (tlog-play spins there).
func TestPlayStdinDevNull(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file := writeTemp(t, tlogLine(1, 0, "=80x24>4+1500>4", "abc\ndef\n"))
	p := startPlay(t, null, file)
	got, took := p.wait()
	if got != "abc\ndef\n"+exitSequence || took < 1500*time.Millisecond {
		t.Errorf("played %q in %v", got, took)
	}
	if cpu := p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime(); cpu > 300*time.Millisecond {
		t.Errorf("used %v of CPU in %v", cpu, took)
	}
}

func TestPlayNotice(t *testing.T) {
	p := startPlay(t, nil, "-s", "100", writeTemp(t, tlogLine(1, 0, "=120x40>2", "x\n")))
	if got, _ := p.wait(); got != "x\n"+exitSequence {
		t.Errorf("played %q", got)
	}
	if s := p.stderr.String(); strings.Count(s, "120x40") != 1 || !strings.Contains(s, "100x30") {
		t.Errorf("stderr %q, want one notice of 120x40 against 100x30", s)
	}
}

func TestPlayCLI(t *testing.T) {
	file := writeTemp(t, tlogLine(1, 0, "=80x24>3+10>3", "abcdef"))
	for _, tc := range []struct {
		args    []string
		code    int
		out     string
		errHas  string
		comment string
	}{
		{[]string{file}, 0, "abcdef" + exitSequence, "", "default command"},
		{[]string{"-s", "50", "--idle-limit", "0.001", file}, 0, "abcdef" + exitSequence, "", "flags first"},
		{[]string{"play", "-", "--lax"}, 0, "abcdef" + exitSequence, "", "stdin"},
		{[]string{"export", "-F", "raw", file}, 0, "abcdef", "", "export still works"},
		{[]string{"--goto", "1:2:3:4", file}, 2, "", "--goto: bad time", "bad goto"},
		{[]string{"--speed", "0", file}, 2, "", "--speed", "zero speed"},
		{[]string{"--idle-limit", "-1", file}, 2, "", "--idle-limit", "negative limit"},
		{[]string{"-r", "es", file}, 2, "", "--reader", "unknown reader"},
		{[]string{"--paused", file}, 2, "", "needs a terminal", "paused without keys"},
		{[]string{"-p", file}, 2, "", "needs a terminal", "short bool flag first"},
		{[]string{"--version"}, 0, "vigil-play version " + version.Version + "\n", "", "root flag"},
		{[]string{"nosuch.json"}, 1, "", "nosuch.json", "missing file"},
		{[]string{writeTemp(t, tlogLine(1, 0, ">2", "ok")+"{broken\n")}, 1, "ok" + exitSequence, ":2:", "malformed"},
	} {
		stdin := ""
		if slices.Contains(tc.args, "-") {
			stdin = tlogLine(1, 0, "=80x24>3+10>3", "abcdef")
		}
		code, out, errOut := runCLI(stdin, tc.args...)
		if code != tc.code || out != tc.out || !strings.Contains(errOut, tc.errHas) {
			t.Errorf("%s: %q: exit %d, out %q, err %q; want %d, %q, err with %q",
				tc.comment, tc.args, code, out, errOut, tc.code, tc.out, tc.errHas)
		}
	}
	if code, out, _ := runCLI("", "--help"); code != 0 || !strings.Contains(out, "play") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, out, _ := runCLI("", "help", "play"); code != 0 || !strings.Contains(out, "--idle-limit") {
		t.Errorf("help play: %d %q", code, out)
	}
}

// vigil-rec -w journal to a real journald, played back by its recording id.
func TestPlayJournal(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	svctest.StartJournald(t)
	cmd := exec.Command(filepath.Join(bin, "vigil-rec"), "--config", "/dev/null", "-w", "journal", "--",
		"sh", "-c", `echo journal test; printf '\377 \303\251\n'; printf '\033[1mbold\n'`)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&screen, ptmx); close(copied) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vigil-rec: %v", err)
	}
	<-copied // EIO once the program and the recorder have gone
	svctest.SyncJournal(t)
	out, err := exec.Command("journalctl", "-o", "json", "--output-fields=TLOG_REC", "SYSLOG_IDENTIFIER=vigil-rec").Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	var ent struct{ TLOG_REC string }
	if err := json.Unmarshal(bytes.SplitN(out, []byte("\n"), 2)[0], &ent); err != nil || ent.TLOG_REC == "" {
		t.Fatalf("no recording in the journal: %v: %q", err, out)
	}
	// vigil-rec's own warning (no signing key) is on the screen, not in
	// the recording.
	want := screen.String()
	if strings.HasPrefix(want, "vigil-rec: ") {
		_, want, _ = strings.Cut(want, "\r\n")
	}
	code, played, errOut := runCLI("", "play", "-r", "journal", "--speed", "1000", ent.TLOG_REC)
	if code != 0 || played != want+exitSequence || !strings.Contains(want, "\xff \u00e9\r\n") {
		t.Errorf("exit %d, stderr %q\nplayed %q\nscreen %q", code, errOut, played, screen.String())
	}
	code, exported, errOut := runCLI("", "export", "--format", "raw", "-r", "journal", ent.TLOG_REC)
	if code != 0 || exported != want {
		t.Errorf("export -r journal: exit %d, stderr %q\nexported %q\nscreen   %q", code, errOut, exported, want)
	}
	code, listed, errOut := runCLI("", "list", "-r", "journal", "--json")
	if code != 0 || strings.Count(listed, "\n") != 1 || !strings.Contains(listed, `"rec":"`+ent.TLOG_REC+`"`) ||
		!strings.Contains(listed, `"file":"journal:TLOG_REC=`+ent.TLOG_REC+`"`) {
		t.Errorf("list -r journal: exit %d, stderr %q\n%s", code, errOut, listed)
	}
	code, found, errOut := runCLI("", "search", "-r", "journal", "bold")
	if want := "-r journal " + ent.TLOG_REC + "  +"; code != 0 || !strings.HasPrefix(found, want) || !strings.HasSuffix(found, "  bold\n") {
		t.Errorf("search -r journal: exit %d, stderr %q\n%s", code, errOut, found)
	}
	// --follow: a message added to the journal while playing is played.
	p := startPlay(t, nil, "-f", "-r", "journal", "--speed", "1000", ent.TLOG_REC)
	p.waitFor("bold")
	last, err := exec.Command("journalctl", "-o", "cat", "TLOG_REC="+ent.TLOG_REC).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(last)), "\n")
	// The appended message starts 10 s after the last one started: that
	// one may span a few ms (more under load), and time must not go back.
	var lastMsg struct{ ID, Pos int }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &lastMsg); err != nil {
		t.Fatal(err)
	}
	added := fmt.Sprintf(`{"ver":"2.3","host":"h","rec":%q,"user":"u","term":"xterm","session":1,"id":%d,"pos":%d,`+
		`"timing":">9","in_txt":"","in_bin":[],"out_txt":"appended\n","out_bin":[]}`, ent.TLOG_REC, lastMsg.ID+1, lastMsg.Pos+10000)
	logger := exec.Command("logger", "--journald")
	logger.Stdin = strings.NewReader("MESSAGE=" + added + "\nTLOG_REC=" + ent.TLOG_REC + "\n")
	if out, err := logger.CombinedOutput(); err != nil {
		t.Fatalf("logger: %v %s", err, out)
	}
	p.waitFor("appended")
	if _, err := p.ptmx.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	p.wait()

	code, _, errOut = runCLI("", "-r", "journal", "no-such-rec")
	if code != 1 || !strings.Contains(errOut, "no journal entries with TLOG_REC=no-such-rec") {
		t.Errorf("unknown recording: exit %d, %q", code, errOut)
	}
}
