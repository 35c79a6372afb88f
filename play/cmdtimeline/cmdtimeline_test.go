package cmdtimeline

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

// nobody is a uid no test host has a name for.
const nobody = 4242424

// hostileArgv is what a recorded user can make a command's arguments: a
// title change, a bidi override, a quote and a C1 control.
var hostileArgv = []string{"printf", "\x1b]2;pwned\a\x1b[2J", "\u202eevil", "it's", "\u009b6n", ""}

// fixture is a recording by root in a directory of its own, its command
// log signed with key, and the keys that trust it. The log's start entry
// says half a second after the recording's own start: offsets count from
// the recording's.
type fixture struct {
	dir, file, log string
	key            ed25519.PrivateKey
	trusted        keys.Set
}

const fixtureRec = "0a1b2c3d-rec"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))}
	pub := f.key.Public().(ed25519.PublicKey)
	f.trusted = keys.Set{keys.ID(pub): pub}
	m := recgen.Meta{Rec: fixtureRec, User: "root", Host: "vm", Start: recgen.Start}
	var err error
	if f.file, err = recgen.WriteFile(f.dir, m, []recgen.Chunk{{T: 5 * time.Second, Data: []byte("$ ")}}); err != nil {
		t.Fatal(err)
	}
	m.Start, m.Key = m.Start.Add(500*time.Millisecond), f.key
	f.log, err = recgen.CommandLog(f.dir, m, []recgen.Command{
		{T: time.Second, Cwd: "/root", Argv: []string{"ls", "-la", "my file"}},
		{T: 2 * time.Second, UID: nobody, Cwd: "/home/x y", Argv: []string{"nosuch"}, Exit: -2},
		{T: 3 * time.Second, Lost: "kernel lost 3 audit records"},
		{T: 4 * time.Second, Cwd: "/tmp/\x1b[31m", Argv: hostileArgv},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// tamper changes one byte of the log's third line.
func (f *fixture) tamper(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(f.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.log, bytes.Replace(data, []byte(`["nosuch"]`), []byte(`["nosucH"]`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noControls fails when s holds what a terminal would act on.
func noControls(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\n' || r >= 0x7f && r < 0xa0 || r == 0x202e }) {
		t.Errorf("raw control characters in %q", s)
	}
}

func (f *fixture) read(t *testing.T) *Timeline {
	t.Helper()
	rs, err := InFile(f.file, "")
	if err != nil || len(rs) != 1 {
		t.Fatalf("InFile: %v %v", rs, err)
	}
	tl, err := Read(rs[0], f.trusted)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// Quoted arguments are printable, and bash reads them back as they were.
func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "''"},
		{"ls", "ls"},
		{"/usr/bin/x-1,a=b:c@d%e+f", "/usr/bin/x-1,a=b:c@d%e+f"},
		{"my file", "'my file'"},
		{"it's", `'it'\''s'`},
		{"é $HOME *", "'é $HOME *'"},
		{"\x1b]2;x\a", `$'\x1b]2;x\a'`},
		{"a\\b'\x1b[1m", `$'a\\b\'\x1b[1m'`},
		{"\u202eevil", `$'\u202eevil'`},
		{"bad\xff\n", `$'bad\xff\n'`},
		{"\u009b6n", `$'\u009b6n'`},
	} {
		if got := Quote([]string{c.in}); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to read the quoted arguments back")
	}
	argv := append(slices.Clone(hostileArgv), "a\\b'c\"d", "\U000e0001x", "\tz\x7f", "bad\xff", "$(id)", "~", "*")
	out, err := exec.Command(bash, "-c", `printf '%s\0' `+Quote(argv)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if back := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); !slices.Equal(back, argv) {
		t.Errorf("bash read back %q\nwant %q", back, argv)
	}
}

func TestPrint(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper bool
		want   string
	}{
		{"intact", false, "commands of 0a1b2c3d-rec: OK; 3 commands; may be missing: kernel lost 3 audit records\n" +
			"   1  +00:00:01.500  root  /root  ls -la 'my file'\n" +
			"   2  +00:00:02.500  4242424  '/home/x y'  nosuch  [ENOENT]\n" +
			"      +00:00:03.500  -- commands may be missing here: kernel lost 3 audit records\n" +
			`   3  +00:00:04.500  root  $'/tmp/\x1b[31m'  printf $'\x1b]2;pwned\a\x1b[2J' $'\u202eevil' 'it'\''s' $'\u009b6n' ''` + "\n"},
		{"tampered", true, "commands of 0a1b2c3d-rec: MODIFIED at line 3: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.tamper {
				f.tamper(t)
			}
			tl := f.read(t)
			var b strings.Builder
			if err := Print(&b, tl); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if !strings.HasPrefix(out, c.want) || (!c.tamper && out != c.want) {
				t.Errorf("printed:\n%s\nwant:\n%s", out, c.want)
			}
			noControls(t, out)
			if (tl.Report.State == verify.OK) == c.tamper {
				t.Errorf("state %s", tl.Report.State)
			}
		})
	}
}

// The numbering skips losses: play --goto-command N counts commands.
func TestPrintNumbers(t *testing.T) {
	tl := newFixture(t).read(t)
	it, err := tl.Command(3)
	if err != nil || it.Cmd.Argv[0] != "printf" || it.Offset != 4500*time.Millisecond {
		t.Errorf("command 3: %+v %v", it, err)
	}
	if _, err := tl.Command(4); err == nil || !strings.Contains(err.Error(), "has 3 commands, no command 4") {
		t.Errorf("command 4: %v", err)
	}
}

func TestPrintJSON(t *testing.T) {
	tl := newFixture(t).read(t)
	var b bytes.Buffer
	if err := PrintJSON(&b, tl); err != nil {
		t.Fatal(err)
	}
	noControls(t, b.String())
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []map[string]any{
		{"kind": "report", "state": "OK", "commands": 3.0, "rec": fixtureRec, "recording": tl.File, "file": tl.File, "ended": true},
		{"kind": "exec", "n": 1.0, "seconds": 1.5, "offset": "00:00:01.500", "user": "root", "cwd": "/root", "ok": true, "line": "ls -la 'my file'"},
		{"kind": "exec", "n": 2.0, "seconds": 2.5, "user": "4242424", "ok": false, "exit": -2.0, "error": "ENOENT"},
		{"kind": "lost", "seconds": 3.5, "lost": "kernel lost 3 audit records", "rec": fixtureRec},
		{"kind": "exec", "n": 3.0, "cwd": "/tmp/\x1b[31m", "time": recgen.Start.Add(4500 * time.Millisecond).UTC().Format(time.RFC3339Nano), "pid": 1003.0},
	} {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %#v, want %#v", i+1, k, lines[i][k], v)
			}
		}
	}
	var argv []string
	for _, a := range lines[4]["argv"].([]any) {
		argv = append(argv, a.(string))
	}
	if !slices.Equal(argv, hostileArgv) {
		t.Errorf("argv %q", argv)
	}
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	// A journal recording (or a purged one) has its log alone.
	alone := recgen.Meta{Rec: "only-a-log", User: "u", Host: "h", Start: recgen.Start, Key: f.key}
	if _, err := recgen.CommandLog(f.dir, alone, []recgen.Command{{T: time.Second, Argv: []string{"id"}}}, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arg, rec string
		want     Recording
		err      string
	}{
		{arg: f.file, want: Recording{Name: f.file, File: f.file, Rec: fixtureRec, Dir: f.dir, Start: recgen.Start}},
		{arg: fixtureRec, want: Recording{Name: f.file, File: f.file, Rec: fixtureRec, Dir: f.dir, Start: recgen.Start}},
		{arg: "only-a-log", want: Recording{Name: "only-a-log", Rec: "only-a-log", Dir: f.dir}},
		{arg: f.file, rec: "other", want: Recording{Name: f.file + " -m other", File: f.file, Rec: "other", Dir: f.dir}},
		{arg: "only-a-log", rec: "x", err: "-m selects a recording of a FILE"},
		{arg: f.dir, err: "is neither a recording file nor a recording id"},
		{arg: f.log, err: "not a recording"},
	} {
		rs, err := Resolve(c.arg, f.dir, c.rec)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Resolve(%s, -m %q): %v, want %q", c.arg, c.rec, err, c.err)
			}
		case err != nil || len(rs) != 1 || rs[0].Name != c.want.Name || rs[0].File != c.want.File || rs[0].Rec != c.want.Rec ||
			rs[0].Dir != c.want.Dir || !rs[0].Start.Equal(c.want.Start):
			t.Errorf("Resolve(%s, -m %q) = %+v, %v\nwant %+v", c.arg, c.rec, rs, err, c.want)
		}
	}
	// Without the recording, offsets count from the log's start.
	rs, _ := Resolve("only-a-log", f.dir, "")
	tl, err := Read(rs[0], f.trusted)
	if err != nil || tl.Report.State != verify.Truncated || !tl.Origin.Equal(recgen.Start) || tl.Items()[0].Offset != time.Second {
		t.Errorf("the log alone: %v %+v", err, tl)
	}
	rs, _ = Resolve(f.file, f.dir, "other")
	if _, err := Read(rs[0], f.trusted); !errors.Is(err, ErrNoLog) ||
		err.Error() != "no command log for recording other: vigil-cmdlog was not running, or the session was not a login" {
		t.Errorf("no log: %v", err)
	}
}

// A file holding two recordings: each is named as search names it.
func TestInFileShared(t *testing.T) {
	dir := t.TempDir()
	a, b := recgen.Record("a", []recgen.Chunk{{T: time.Second, Data: []byte("x")}}), recgen.Record("b", nil)
	path := filepath.Join(dir, "shared.jsonl")
	if err := os.WriteFile(path, append(a, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := InFile(path, "")
	if err != nil || len(rs) != 2 || rs[0].Name != path+" -m a" || rs[1].Name != path+" -m b" || rs[0].Start.IsZero() || !rs[1].Start.IsZero() {
		t.Errorf("%+v %v", rs, err)
	}
}

func TestSearch(t *testing.T) {
	const hostileLine = `printf $'\x1b]2;pwned\a\x1b[2J' $'\u202eevil' 'it'\''s' $'\u009b6n' ''`
	for _, c := range []struct {
		name, pattern string
		o             search.Options
		tamper        bool
		want          []string // the hits' lines
	}{
		{name: "argv joined", pattern: `-la my`, want: []string{"ls -la 'my file'"}},
		{name: "hostile", pattern: `pwned`, want: []string{hostileLine}},
		{name: "not the cwd", pattern: `root`},
		{name: "every command", pattern: `.`, want: []string{"ls -la 'my file'", "nosuch", hostileLine}},
		{name: "its user", pattern: `^ls`, o: search.Options{User: "root"}, want: []string{"ls -la 'my file'"}},
		{name: "other user", pattern: `.`, o: search.Options{User: "alice"}},
		{name: "other rec", pattern: `.`, o: search.Options{Rec: "x"}},
		{name: "tampered", pattern: `nosucH`, tamper: true, want: []string{"nosucH"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.tamper {
				f.tamper(t)
			}
			rs, err := InFile(f.file, "")
			if err != nil {
				t.Fatal(err)
			}
			// A recording without a log has no hits, and is no error.
			rs = append(rs, Recording{Name: "nolog", Rec: "nolog", Dir: f.dir})
			if c.o.Match, err = search.Compile(c.pattern, true); err != nil {
				t.Fatal(err)
			}
			var states []verify.State
			hits, err := Search(rs, c.o, f.trusted, func(tl *Timeline) { states = append(states, tl.Report.State) })
			wantStates := []verify.State{verify.OK}
			switch {
			case c.tamper:
				wantStates = []verify.State{verify.Modified}
			case c.o.User == "alice" || c.o.Rec != "":
				wantStates = nil
			}
			if err != nil || !slices.Equal(states, wantStates) {
				t.Errorf("%v, logs read: %v", err, states)
			}
			var lines []string
			for _, h := range hits {
				if h.Source != "command" || h.Name != f.file || h.File != f.file || h.Rec != fixtureRec {
					t.Errorf("hit %+v", h)
				}
				lines = append(lines, h.Line)
			}
			if !slices.Equal(lines, c.want) {
				t.Errorf("hits %q, want %q", lines, c.want)
			}
		})
	}
}
