package commands

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

const testRec = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func trust(keys_ ...ed25519.PrivateKey) keys.Set {
	s := keys.Set{}
	for _, k := range keys_ {
		pub := k.Public().(ed25519.PublicKey)
		s[keys.ID(pub)] = pub
	}
	return s
}

// writeLog writes a log of n commands, ended when end, and returns its bytes.
func writeLog(t testing.TB, dir string, key ed25519.PrivateKey, n int, end bool) []byte {
	t.Helper()
	w, err := Create(dir, Entry{Time: t0, Start: t0, Host: "h", User: "alice", Session: 7, Rec: testRec}, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		c := &Command{PID: 100 + i, PPID: 99, UID: 1000, EUID: 1000, AUID: 1000, TTY: "pts0", Cwd: "/home/alice",
			Exe: "/usr/bin/echo", Path: "/bin/echo", Argv: []string{"echo", "hé \"x\"\n", "<&>"}, OK: true}
		if err := w.Append(Entry{Kind: KindExec, Time: t0.Add(time.Duration(i) * time.Second), Cmd: c}); err != nil {
			t.Fatal(err)
		}
	}
	if end {
		if err := w.End(t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	} else if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := testKey(1)
	data := writeLog(t, dir, key, 3, true)
	entries, rep := Verify(data, testRec, trust(key))
	if rep.State != verify.OK || rep.Execs != 3 || !rep.Ended || len(entries) != 5 || !rep.Start.Equal(t0) {
		t.Fatalf("%s: %+v", rep.String(), entries)
	}
	if c := entries[1].Cmd; c.Argv[1] != "hé \"x\"\n" || c.Argv[2] != "<&>" || c.PID != 100 || entries[1].Offset(rep.Start) != 0 ||
		entries[3].Offset(rep.Start) != 2*time.Second {
		t.Errorf("entry 2: %+v", c)
	}
	fi, err := os.Stat(Dir(dir) + "/" + testRec + ".jsonl")
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	if _, _, err := Resume(dir, testRec, key); !errors.Is(err, ErrEnded) {
		t.Errorf("resume an ended log: %v", err)
	}
	if _, err := Create(dir, Entry{Rec: testRec}, key); err == nil {
		t.Error("Create replaced an existing log")
	}
	if _, err := Path(dir, "../x"); err == nil {
		t.Error("a rec id with a slash named a file")
	}
	// Another key: UNKNOWN_KEY, never OK.
	if _, rep := Verify(data, testRec, trust(testKey(2))); rep.State != verify.UnknownKey {
		t.Errorf("other key: %s", rep.String())
	}
	// Filed under another recording.
	if _, rep := Verify(data, "other", trust(key)); rep.State != verify.Modified || rep.Line != 1 {
		t.Errorf("other rec: %s", rep.String())
	}
}

// Every single-byte change of a log is found.
func TestEveryByte(t *testing.T) {
	key := testKey(1)
	data := writeLog(t, t.TempDir(), key, 2, true)
	for i := range data {
		for _, b := range []byte{'0', '"', '\n', ' ', 'x'} {
			if data[i] == b {
				continue
			}
			edited := bytes.Clone(data)
			edited[i] = b
			if _, rep := Verify(edited, testRec, trust(key)); rep.State == verify.OK {
				t.Fatalf("byte %d set to %q: still OK", i, b)
			}
		}
	}
}

func TestTampering(t *testing.T) {
	key := testKey(1)
	data := writeLog(t, t.TempDir(), key, 4, true)
	lines := bytes.SplitAfter(data, []byte("\n"))[:6] // start, 4 execs, end
	join := func(ls ...[]byte) []byte { return bytes.Join(ls, nil) }
	for _, tc := range []struct {
		name  string
		data  []byte
		state verify.State
		line  int
	}{
		{"middle line deleted", join(lines[0], lines[1], lines[3], lines[4], lines[5]), verify.Missing, 3},
		{"lines swapped", join(lines[0], lines[2], lines[1], lines[3], lines[4], lines[5]), verify.Reordered, 3},
		{"line duplicated", join(lines[0], lines[1], lines[1], lines[2], lines[3], lines[4], lines[5]), verify.Reordered, 3},
		{"tail deleted", join(lines[:4]...), verify.Truncated, 4},
		{"end cut off", join(join(lines[:5]...), lines[5][:40]), verify.Truncated, 6},
		{"after the end", join(join(lines...), lines[5]), verify.Reordered, 7},
		{"empty", nil, verify.Truncated, 0},
		{"unsigned line inserted", join(lines[0], lines[1], unsigned(t, lines[2]), lines[3], lines[4], lines[5]), verify.Modified, 3},
	} {
		_, rep := Verify(tc.data, testRec, trust(key))
		if rep.State != tc.state || rep.Line != tc.line {
			t.Errorf("%s: %s (line %d), want %s at line %d", tc.name, rep.String(), rep.Line, tc.state, tc.line)
		}
	}
	// A log written without a key: UNSIGNED.
	if _, rep := Verify(writeLog(t, t.TempDir(), nil, 1, true), testRec, trust(key)); rep.State != verify.Unsigned {
		t.Errorf("unsigned log: %s", rep.String())
	}
}

// unsigned is line with its signature removed.
func unsigned(t *testing.T, line []byte) []byte {
	i := bytes.Index(line, []byte(`,"key":`))
	if i < 0 {
		t.Fatalf("no key in %s", line)
	}
	return append(bytes.Clone(line[:i]), "}\n"...)
}

// The daemon stopped mid-line: Resume cuts the partial line off and the
// log continues, chained, verifying OK once ended.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	key := testKey(1)
	data := writeLog(t, dir, key, 2, false)
	if _, rep := Verify(data, testRec, trust(key)); rep.State != verify.Truncated || !strings.Contains(rep.Detail, "in progress") {
		t.Fatalf("open log: %s", rep.String())
	}
	path, _ := Path(dir, testRec)
	if err := os.WriteFile(path, append(data, `{"body":{"v":1,"rec"`...), 0o640); err != nil {
		t.Fatal(err)
	}
	w, cut, err := Resume(dir, testRec, key)
	if err != nil || cut != 20 {
		t.Fatalf("resume: %v, cut %d", err, cut)
	}
	if err := w.Append(Entry{Kind: KindLost, Time: t0, Lost: "vigil-cmdlog was not running"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(Entry{Kind: KindExec, Time: t0, Cmd: &Command{Argv: []string{"ls"}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.End(t0); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	entries, rep := Verify(data, testRec, trust(key))
	if rep.State != verify.OK || rep.Execs != 3 || len(rep.Lost) != 1 || len(entries) != 6 || *entries[5].Count != 3 {
		t.Fatalf("resumed log: %s\n%s", rep.String(), data)
	}
	// A log whose chain is broken is not extended.
	lines := bytes.SplitAfter(data, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join([][]byte{lines[0], lines[2]}, nil), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Resume(dir, testRec, key); err == nil || !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("resume a broken log: %v", err)
	}
}

// FuzzVerify: Verify never panics, and a log it calls OK re-verifies OK
// with its entries re-written by the Writer.
func FuzzVerify(f *testing.F) {
	key := testKey(1)
	f.Add(writeLog(f, f.TempDir(), key, 2, true))
	f.Add(writeLog(f, f.TempDir(), nil, 1, false))
	f.Add([]byte("{\"body\":{}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, rep := Verify(data, testRec, trust(key))
		_ = rep.String()
		if rep.State != verify.OK {
			return
		}
		dir := t.TempDir()
		w, err := Create(dir, entries[0], key)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[1 : len(entries)-1] {
			if err := w.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.End(entries[len(entries)-1].Time); err != nil {
			t.Fatal(err)
		}
		again, err := os.ReadFile(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-written differs:\n%s\n%s", data, again)
		}
	})
}

// A log verified as it arrives, in pieces at every line boundary, gets the
// verdict of the whole; a log in progress is sound so far (LinesState OK).
func TestVerifyFrom(t *testing.T) {
	key := testKey(1)
	data := writeLog(t, t.TempDir(), key, 3, true)
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1]
	for cut := 1; cut < len(lines); cut++ {
		head := bytes.Join(lines[:cut], nil)
		_, rep, c := VerifyFrom(Chain{}, head, testRec, trust(key))
		if rep.LinesState != verify.OK || rep.State != verify.Truncated || c.Lines != cut {
			t.Fatalf("first %d lines: %s (lines %s)", cut, rep.String(), rep.LinesState)
		}
		entries, rep, c := VerifyFrom(c, data[len(head):], testRec, trust(key))
		if rep.State != verify.OK || rep.Execs != 3 || len(entries) != len(lines)-cut || c.Lines != len(lines) || !c.Ended {
			t.Fatalf("rest after %d lines: %s", cut, rep.String())
		}
		// The same rest with a line taken out, or after another head.
		if _, rep, _ := VerifyFrom(Chain{Lines: cut, Seq: uint64(cut), Prev: c.Prev}, data[len(head):], testRec, trust(key)); rep.LinesState != verify.Modified {
			t.Fatalf("rest after the wrong head: %s", rep.String())
		}
	}
	if _, rep, _ := VerifyFrom(Chain{}, lines[0], testRec, trust(testKey(2))); rep.LinesState != verify.UnknownKey || rep.State != verify.Truncated {
		t.Errorf("unknown key in progress: %s / %s", rep.LinesState, rep.State)
	}
}
