package cmdlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/audit"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/session"
	"github.com/vigil-rec/vigil/rec/verify"
)

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))

func trusted() keys.Set {
	pub := testKey.Public().(ed25519.PublicKey)
	return keys.Set{keys.ID(pub): pub}
}

type env struct {
	recDir, runDir string
	red            *Redactor
}

func newEnv(t *testing.T) *env {
	red, err := NewRedactor(conf.DefaultRedact, conf.DefaultRedactAfter)
	if err != nil {
		t.Fatal(err)
	}
	return &env{recDir: t.TempDir(), runDir: t.TempDir(), red: red}
}

func (e *env) logger() *Logger {
	l := New(Config{RecDir: e.recDir, RunDir: e.runDir, Key: testKey, Redactor: e.red, Grace: time.Millisecond})
	l.Start()
	return l
}

func (e *env) register(t *testing.T, rec string, ses uint32) func() error {
	t.Helper()
	remove, err := session.Register(e.runDir, session.Registration{Rec: rec, Session: ses, Start: time.Now(), User: "alice", Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return remove
}

func exec(ses uint32, argv ...string) *audit.CommandEvent {
	return &audit.CommandEvent{Time: time.Now(), Session: ses, AUID: 1000, UID: 1000, EUID: 1000, PID: 42, PPID: 41,
		TTY: "pts1", Cwd: "/home/alice", Exe: "/usr/bin/" + argv[0], Executable: argv[0], Argv: argv, Success: true}
}

func (e *env) read(t *testing.T, rec string) ([]commands.Entry, commands.Report) {
	t.Helper()
	entries, rep, err := commands.ReadFile(e.recDir, rec, trusted())
	if err != nil {
		t.Fatal(err)
	}
	return entries, rep
}

func argvs(entries []commands.Entry) [][]string {
	var out [][]string
	for _, e := range entries {
		if e.Kind == commands.KindExec {
			out = append(out, e.Cmd.Argv)
		}
	}
	return out
}

func TestBinding(t *testing.T) {
	e := newEnv(t)
	l := e.logger()
	// The registration appears just before the shell's first exec: found
	// on the miss, without waiting for a tick.
	unregA := e.register(t, "recA", 10)
	l.Handle(exec(10, "bash"))
	e.register(t, "recB", 11)
	e.register(t, "recC", 11) // two channels of one connection: one audit session
	l.Handle(exec(11, "ls", "-l"))
	l.Handle(exec(12, "unrecorded")) // nobody records session 12
	l.Handle(exec(audit.Unset, "daemon"))
	l.Handle(exec(10, "mysql", "--password=hunter2", "db"))
	if l.Open() != 3 {
		t.Fatalf("%d logs open", l.Open())
	}
	if err := unregA(); err != nil {
		t.Fatal(err)
	}
	l.Scan() // sees A gone: ends after the grace
	l.Handle(exec(10, "late"))
	time.Sleep(5 * time.Millisecond)
	l.Scan()
	l.Handle(exec(10, "after-end")) // to the journal only
	entries, rep := e.read(t, "recA")
	if rep.State != verify.OK || !slices.EqualFunc(argvs(entries), [][]string{{"bash"}, {"mysql", "--password=[REDACTED]", "db"}, {"late"}}, slices.Equal) {
		t.Fatalf("recA: %s %q", rep.String(), argvs(entries))
	}
	if c := entries[2].Cmd; c.Redacted != 1 || c.TTY != "pts1" || c.Cwd != "/home/alice" || c.AUID != 1000 || !c.OK {
		t.Errorf("recA command: %+v", c)
	}
	for _, rec := range []string{"recB", "recC"} {
		entries, rep := e.read(t, rec)
		if rep.State != verify.Truncated || !strings.Contains(rep.Detail, "in progress") || len(argvs(entries)) != 1 {
			t.Errorf("%s: %s %q", rec, rep.String(), argvs(entries))
		}
	}
	files, _ := os.ReadDir(commands.Dir(e.recDir))
	if len(files) != 3 {
		t.Errorf("%d logs, want 3 (nothing for unrecorded sessions)", len(files))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// The daemon stops and starts again: logs of recordings still running
// go on with a lost entry; one whose recorder died meanwhile is ended.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	l := e.logger()
	e.register(t, "live", 20)
	e.register(t, "dies", 21)
	l.Handle(exec(20, "one"))
	l.Handle(exec(21, "two"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// "dies"'s recorder goes away without unregistering (killed).
	path := filepath.Join(e.runDir, "recording.dies.json")
	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte(`"pid_start":`), []byte(`"pid_start":9`), 1), 0o644)
	// A half-written line from the stop.
	f, _ := os.OpenFile(filepath.Join(commands.Dir(e.recDir), "live.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"body":{"v"`)
	f.Close()

	l = e.logger()
	l.Handle(exec(20, "three"))
	time.Sleep(5 * time.Millisecond)
	l.Scan()
	entries, rep := e.read(t, "live")
	if rep.State != verify.Truncated || len(rep.Lost) != 1 || !strings.Contains(rep.Lost[0], "was not running") ||
		!strings.Contains(rep.Lost[0], "12 bytes cut off") || !slices.EqualFunc(argvs(entries), [][]string{{"one"}, {"three"}}, slices.Equal) {
		t.Errorf("live: %s %q", rep.String(), argvs(entries))
	}
	if _, rep := e.read(t, "dies"); rep.State != verify.OK || rep.Execs != 1 || len(rep.Lost) != 1 {
		t.Errorf("dies: %s", rep.String())
	}
	l.Lost("the kernel lost 3 audit records")
	if _, rep := e.read(t, "live"); len(rep.Lost) != 2 {
		t.Errorf("live after Lost: %s", rep.String())
	}
	l.Close()
}

// fakeSource feeds Run.
type fakeSource struct {
	ch     chan *audit.CommandEvent
	mu     sync.Mutex
	status audit.Status
}

func (s *fakeSource) Events() <-chan *audit.CommandEvent { return s.ch }
func (s *fakeSource) Err() error                         { return nil }
func (s *fakeSource) Status() (audit.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, nil
}

// Another process takes the audit daemon's place: the open logs say that
// commands are missing from then on and Run returns, for a restart.
func TestRunDeposed(t *testing.T) {
	e := newEnv(t)
	l := New(Config{RecDir: e.recDir, RunDir: e.runDir, Key: testKey})
	self := uint32(os.Getpid())
	src := &fakeSource{ch: make(chan *audit.CommandEvent), status: audit.Status{Mode: audit.ModeDaemon, Enabled: 1, PID: self}}
	e.register(t, "r", 50)
	done := make(chan error)
	go func() { done <- l.Run(context.Background(), src, 10*time.Millisecond) }()
	src.ch <- exec(50, "id")
	src.mu.Lock()
	src.status.PID = 1
	src.mu.Unlock()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no longer the audit daemon") {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run went on, deaf")
	}
	if _, rep := e.read(t, "r"); len(rep.Lost) != 1 || !strings.Contains(rep.Lost[0], "no longer sends") || rep.Execs != 1 {
		t.Errorf("log: %s", rep.String())
	}
}

func TestRun(t *testing.T) {
	e := newEnv(t)
	l := New(Config{RecDir: e.recDir, RunDir: e.runDir, Key: testKey, Redactor: e.red, Grace: time.Millisecond})
	src := &fakeSource{ch: make(chan *audit.CommandEvent)}
	unreg := e.register(t, "r", 30)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx, src, 10*time.Millisecond) }()
	src.ch <- exec(30, "id")
	unreg()
	close(src.ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cancel()
	// Run closed the log without ending it; the next Start ends it, as
	// its recording is over.
	e.logger().Close()
	if _, rep := e.read(t, "r"); rep.State != verify.OK || rep.Execs != 1 {
		t.Errorf("r: %s", rep.String())
	}
	for _, c := range []struct {
		a, b audit.Status
		want string
	}{
		{audit.Status{LostSinceOpen: 1}, audit.Status{LostSinceOpen: 4, SerialGaps: 2}, "the kernel lost 3 audit records; 2 audit events never arrived"},
		{audit.Status{Enabled: 1, PID: 7}, audit.Status{Enabled: 1, PID: 7, Mode: audit.ModeDaemon}, ""},
		{audit.Status{Enabled: 1}, audit.Status{Enabled: 0}, "kernel auditing was turned off: no command is seen until it is on again"},
		{audit.Status{Enabled: 1, PID: 7}, audit.Status{Enabled: 1, PID: 9, Mode: audit.ModeDaemon},
			"the kernel no longer sends its audit records to vigil-cmdlog: no command is seen until it restarts"},
		{audit.Status{Enabled: 1, PID: 3}, audit.Status{Enabled: 1, PID: 9, Mode: audit.ModeMulticast}, ""},
	} {
		if got := losses(c.a, c.b, 7); got != c.want {
			t.Errorf("losses(%+v, %+v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestRecDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "all.jsonl")
	os.WriteFile(file, nil, 0o600)
	for _, tc := range []struct {
		c    conf.Commands
		r    conf.Rec
		want string
	}{
		{conf.Commands{Dir: "/x"}, conf.DefaultRec(), "/x"},
		{conf.Commands{}, conf.DefaultRec(), conf.DefaultRecDir},
		{conf.Commands{}, conf.Rec{Writer: "file", File: conf.RecFile{Path: dir}}, dir},
		{conf.Commands{}, conf.Rec{Writer: "file", File: conf.RecFile{Path: file}}, dir},
		{conf.Commands{}, conf.Rec{Writer: "journal", File: conf.RecFile{Path: dir}}, conf.DefaultRecDir},
	} {
		if got := RecDir(tc.c, tc.r); got != tc.want {
			t.Errorf("%+v %+v: %s, want %s", tc.c, tc.r.File, got, tc.want)
		}
	}
}

// BenchmarkHandle is the cost of writing one command to a log: redaction,
// encoding, signing, the write.
func BenchmarkHandle(b *testing.B) {
	red, _ := NewRedactor(conf.DefaultRedact, conf.DefaultRedactAfter)
	run := b.TempDir()
	l := New(Config{RecDir: b.TempDir(), RunDir: run, Key: testKey, Redactor: red})
	if _, err := session.Register(run, session.Registration{Rec: "r", Session: 9, Start: time.Now()}); err != nil {
		b.Fatal(err)
	}
	l.Start()
	ev := exec(9, "/bin/true", "bench")
	b.ResetTimer()
	for range b.N {
		l.Handle(ev)
	}
	b.StopTimer()
	l.Close()
}

// A rotated key signs the logs of sessions that start after the rotation;
// an unreadable key file leaves the key read at start.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	newKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, ed25519.SeedSize))
	l := New(Config{RecDir: e.recDir, RunDir: e.runDir, Key: testKey, KeyFile: keyFile, Grace: time.Millisecond})
	l.Start()
	e.register(t, "before", 40)
	l.Handle(exec(40, "ls")) // no key file: the start key
	if err := keys.WritePrivate(keyFile, newKey); err != nil {
		t.Fatal(err)
	}
	e.register(t, "after", 41)
	l.Handle(exec(41, "ls"))
	l.Close()
	for rec, want := range map[string]ed25519.PrivateKey{"before": testKey, "after": newKey} {
		pub := want.Public().(ed25519.PublicKey)
		_, rep, err := commands.ReadFile(e.recDir, rec, keys.Set{keys.ID(pub): pub})
		if err != nil || rep.LinesState != verify.OK {
			t.Errorf("%s: %v %s", rec, err, rep.String())
		}
	}
}
