package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/keys"
)

// cmdRec is a recording ("one", "two" at 2 s, "three" at 4 s) in a
// directory of its own, its command log signed with the key in pub, and
// a recording of the same directory without one.
type cmdRec struct {
	dir, file, log, pub, nolog string
}

const cmdRecID = "c0ffee-1"

func newCmdRec(t *testing.T) cmdRec {
	t.Helper()
	r := cmdRec{dir: t.TempDir()}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	r.pub = filepath.Join(t.TempDir(), "k.pub")
	if err := keys.WritePublic(r.pub, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	m := recgen.Meta{Rec: cmdRecID, User: "root", Host: "vm", Start: recgen.Start}
	chunks := []recgen.Chunk{{T: 0, Data: []byte("one\r\n")}, {T: 2 * time.Second, Data: []byte("two\r\n")}, {T: 4 * time.Second, Data: []byte("three\r\n")}}
	var err error
	if r.file, err = recgen.WriteFile(r.dir, m, chunks); err != nil {
		t.Fatal(err)
	}
	m.Key = key
	if r.log, err = recgen.CommandLog(r.dir, m, []recgen.Command{
		{T: time.Second, Cwd: "/root", Argv: []string{"ls", "-la"}},
		{T: 2 * time.Second, Lost: "kernel lost 1 audit records"},
		{T: 2500 * time.Millisecond, Cwd: "/root", Argv: []string{"printf", "\x1b]52;c;eA==\a"}},
		{T: 3 * time.Second, Cwd: "/root", Argv: []string{"nosuch"}, Exit: -2},
	}, false); err != nil {
		t.Fatal(err)
	}
	m.Rec = "no-log-1"
	if r.nolog, err = recgen.WriteFile(r.dir, m, chunks); err != nil {
		t.Fatal(err)
	}
	return r
}

// tamper edits a command of the log after the fact.
func (r cmdRec) tamper(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.log, bytes.Replace(data, []byte(`["ls","-la"]`), []byte(`["ls","-lA"]`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCommandsCLI(t *testing.T) {
	r := newCmdRec(t)
	const report = "commands of " + cmdRecID + ": OK; 3 commands; may be missing: kernel lost 1 audit records\n"
	listing := report +
		"   1  +00:00:01.000  root  /root  ls -la\n" +
		"      +00:00:02.000  -- commands may be missing here: kernel lost 1 audit records\n" +
		"   2  +00:00:02.500  root  /root  printf $'\\x1b]52;c;eA==\\a'\n" +
		"   3  +00:00:03.000  root  /root  nosuch  [ENOENT]\n"
	for _, c := range []struct {
		name   string
		args   []string
		tamper bool
		code   int
		out    string // what stdout starts with
		errHas string
	}{
		{name: "file", args: []string{"commands", "-k", r.pub, r.file}, out: listing},
		{name: "id", args: []string{"commands", "-k", r.pub, "--dir", r.dir, cmdRecID}, out: listing},
		{name: "-m", args: []string{"commands", "-k", r.pub, "-m", cmdRecID, r.file}, out: listing},
		{name: "json", args: []string{"commands", "-k", r.pub, "--json", r.file}, out: `{"kind":"report","recording":"` + r.file + `","file":"` + r.file + `","rec":"` + cmdRecID + `","state":"OK"`},
		{name: "unknown key", args: []string{"commands", "-k", filepath.Join(r.dir, "nokey.pub"), r.file}, code: 2, errHas: "nokey.pub"},
		{name: "tampered", args: []string{"commands", "-k", r.pub, r.file}, tamper: true, code: 1,
			out: "commands of " + cmdRecID + ": MODIFIED at line 2: "},
		{name: "no log", args: []string{"commands", "-k", r.pub, r.nolog}, code: 1,
			errHas: "no command log for recording no-log-1: vigil-cmdlog was not running, or the session was not a login"},
		{name: "one without", args: []string{"commands", "-k", r.pub, r.nolog, r.file}, code: 1, out: listing, errHas: "no-log-1"},
		{name: "not a recording", args: []string{"commands", "-k", r.pub, r.dir}, code: 2, errHas: "neither a recording file nor a recording id"},
		{name: "collector name", args: []string{"commands", "--server", "/nonexistent.sock", cmdRecID}, code: 2,
			errHas: "HOST/FILE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.tamper {
				r := newCmdRec(t)
				r.tamper(t)
				c.args[len(c.args)-1] = r.file
			}
			code, out, errOut := runCLI("", c.args...)
			if code != c.code || !strings.HasPrefix(out, c.out) || !strings.Contains(errOut, c.errHas) {
				t.Errorf("exit %d\n%s%s\nwant exit %d, stdout starting\n%s\nand stderr with %q", code, out, errOut, c.code, c.out, c.errHas)
			}
			noControls(t, "commands", out+errOut)
		})
	}
}

func TestSearchCommand(t *testing.T) {
	r := newCmdRec(t)
	for _, c := range []struct {
		name   string
		args   []string
		tamper bool
		code   int
		out    string
		errHas string
	}{
		{name: "found", args: []string{"--command", "^ls", r.dir}, out: r.file + "  +00:00:01.000  (command) ls -la\n",
			errHas: "to replay a hit: vigil-play play RECORDING --goto OFFSET, e.g. vigil-play play " + r.file + " --goto 00:00:01.000"},
		{name: "hostile", args: []string{"--command", "52;c", r.file}, out: r.file + "  +00:00:02.500  (command) printf $'\\x1b]52;c;eA==\\a'\n"},
		{name: "json", args: []string{"--json", "--command", "nosuch", r.dir},
			out: `{"file":"` + r.file + `","rec":"` + cmdRecID + `","offset":"00:00:03.000","seconds":3,"source":"command","line":"nosuch"}` + "\n"},
		{name: "user", args: []string{"--command", "^ls", "--user", "alice", r.dir}, code: 1},
		{name: "not found", args: []string{"--command", "rm -rf", r.dir}, code: 1},
		{name: "no logs", args: []string{"--command", ".", r.nolog}, code: 1, errHas: "none of the recordings searched has a command log"},
		{name: "tampered", args: []string{"--command", "-lA"}, tamper: true, out: "  +00:00:01.000  (command) ls -lA\n",
			errHas: ": commands of " + cmdRecID + ": MODIFIED at line 2: "},
		{name: "empty", args: []string{"--command", "", r.dir}, code: 2, errHas: "empty --command REGEX"},
		{name: "bad regex", args: []string{"--command", "(", r.dir}, code: 2, errHas: "bad regular expression"},
		{name: "input", args: []string{"--command", "x", "--input", r.dir}, code: 2, errHas: "no --input"},
		{name: "collector", args: []string{"--command", "x", "--server", "https://collector:8443"}, code: 2,
			errHas: "over --server, only vigil-play commands reads command logs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.tamper {
				r := newCmdRec(t)
				r.tamper(t)
				c.args = append(c.args, r.dir)
				c.out = r.file + c.out
			}
			code, out, errOut := runCLI("", append([]string{"search", "-k", r.pub}, c.args...)...)
			if code != c.code || out != c.out || !strings.Contains(errOut, c.errHas) {
				t.Errorf("exit %d\n%s%s\nwant exit %d,\n%s\nand stderr with %q", code, out, errOut, c.code, c.out, c.errHas)
			}
			noControls(t, "search --command", out+errOut)
		})
	}
}

// --goto-command N starts where --goto at command N's offset does.
func TestPlayGotoCommand(t *testing.T) {
	r := newCmdRec(t)
	code, want, _ := runCLI("", "play", "-s", "100", "--goto", "2.5", r.file)
	if code != 0 || !strings.Contains(want, "two") {
		t.Fatalf("--goto 2.5: exit %d, %q", code, want)
	}
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		errHas string
	}{
		{name: "command 2", args: []string{"--goto-command", "2", r.file}, errHas: "command 2 at +00:00:02.500: printf $'\\x1b]52;c;eA==\\a'"},
		{name: "with -m", args: []string{"--goto-command", "2", "-m", cmdRecID, r.file}, errHas: "command 2 at +00:00:02.500"},
		{name: "no such command", args: []string{"--goto-command", "4", r.file}, code: 2, errHas: "has 3 commands, no command 4"},
		{name: "zero", args: []string{"--goto-command", "0", r.file}, code: 2, errHas: "counts from 1"},
		{name: "both", args: []string{"--goto-command", "1", "--goto", "1", r.file}, code: 2, errHas: "give one of them"},
		{name: "no log", args: []string{"--goto-command", "1", r.nolog}, code: 1, errHas: "no command log for recording no-log-1"},
		{name: "stdin", args: []string{"--goto-command", "1", "-"}, code: 2, errHas: "not standard input"},
		{name: "collector", args: []string{"--goto-command", "1", "--server", "https://collector:8443", "h/f"}, code: 2,
			errHas: "over --server, only vigil-play commands reads command logs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI("", append([]string{"play", "-s", "100", "-k", r.pub}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.errHas) || (code == 0 && out != want) {
				t.Errorf("exit %d, out %q, err %q; want %d, out %q, err with %q", code, out, errOut, c.code, want, c.errHas)
			}
			noControls(t, "play's stderr", errOut)
		})
	}
}

// export -F json holds the verdict and the commands at their times; a
// recording without a log exports as before.
func TestExportCommands(t *testing.T) {
	r := newCmdRec(t)
	code, out, errOut := runCLI("", "export", "-F", "json", "-k", r.pub, r.file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var kinds []string
	var evs []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		kinds = append(kinds, ev["kind"].(string))
		evs = append(evs, ev)
	}
	if got := strings.Join(kinds, " "); got != "commands window out command commands_lost out command command out" {
		t.Errorf("kinds: %s", got)
	}
	if evs[0]["state"] != "OK" || evs[0]["commands"] != 3.0 || evs[3]["time"] != 1.0 || evs[3]["cwd"] != "/root" ||
		evs[3]["user"] != "root" || evs[3]["ok"] != true || evs[7]["ok"] != false || evs[7]["error"] != "ENOENT" ||
		evs[6]["argv"].([]any)[1] != "\x1b]52;c;eA==\a" || evs[4]["lost"] != "kernel lost 1 audit records" {
		t.Errorf("events:\n%s", out)
	}
	_, plain, _ := runCLI("", "export", "-F", "json", r.nolog)
	if strings.Contains(plain, "command") || !strings.Contains(plain, `"kind":"out"`) {
		t.Errorf("without a log:\n%s", plain)
	}
	// Spans are the player's: no commands there.
	_, span, _ := runCLI("", "export", "-F", "json", "--from", "0", r.file)
	if strings.Contains(span, "command") {
		t.Errorf("a span:\n%s", span)
	}
}

// verify checks a recording's command log too, on a line of its own.
func TestVerifyCommandLog(t *testing.T) {
	r := newCmdRec(t)
	_, out, _ := runCLI("", "verify", "-k", r.pub, r.dir)
	want := r.file + ": commands of " + cmdRecID + ": OK; 3 commands; may be missing: kernel lost 1 audit records\n"
	if !strings.Contains(out, want) || strings.Contains(out, "commands of no-log-1") {
		t.Errorf("verify: %q\nwant a line %q", out, want)
	}
	r.tamper(t)
	code, out, _ := runCLI("", "verify", "-k", r.pub, r.file)
	if code != exitFailed || !strings.Contains(out, r.file+": commands of "+cmdRecID+": MODIFIED at line 2: ") {
		t.Errorf("verify of an edited log: %d %q", code, out)
	}
}
