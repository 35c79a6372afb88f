package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/search"
)

// searchDir holds a.jsonl, made with recgen (user root), and b.jsonl,
// hand-written with typed input (user u).
func searchDir(t *testing.T) string {
	t.Helper()
	ms := time.Millisecond
	chunks := []recgen.Chunk{{T: 0, Data: []byte("\x1b[32m$\x1b[0m ")}}
	// Typed and echoed one key at a time: the line matches "echo needle"
	// at its 11th key (110 ms) and stays the same appearance as it grows.
	for i, c := range "echo needle!" {
		chunks = append(chunks, recgen.Chunk{T: time.Duration(100+i) * ms, Data: []byte(string(c))})
	}
	// 30 lines in one write: "needle 3" scrolls off within it.
	var many strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&many, "\r\nline %d", i)
		if i == 3 {
			many.WriteString(" \x1b[1mneedle\x1b[m 3")
		}
	}
	chunks = append(chunks,
		recgen.Chunk{T: 2 * time.Second, Data: []byte(many.String())},
		// The prompt line scrolls off slowly: no new hit.
		recgen.Chunk{T: 3 * time.Second, Data: []byte("\r\n" + strings.Repeat("x\r\n", 22))},
		// Redrawn over: "neexle" first, fixed by a cursor movement.
		recgen.Chunk{T: 61*time.Minute + 500*ms, Data: []byte("neexle")},
		recgen.Chunk{T: 61*time.Minute + 600*ms, Data: []byte("\x1b[3D\x1b[31md\x1b[m")})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), recgen.Record("a", chunks), 0o600); err != nil {
		t.Fatal(err)
	}
	b := `{"ver":"2.3","host":"h","rec":"b","user":"u","term":"xterm","session":1,"id":1,"pos":0,` +
		`"timing":"=80x24>2+1500<10+10<1+20<8>1","in_txt":"ls needle\u007fX\recho ok\r","in_bin":[],"out_txt":"$ \n","out_bin":[]}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSearch(t *testing.T) {
	dir := searchDir(t)
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	code, out, errOut := runCLI("", "search", "needle", dir)
	want := a + "  +00:00:00.110  $ echo needle\n" +
		a + "  +00:00:02.000  line 3 needle 3\n" +
		a + "  +01:01:00.600  needle\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	if !strings.Contains(errOut, "vigil-play play "+a+" --goto 00:00:00.110") {
		t.Errorf("no replay hint: %q", errOut)
	}

	// Typed input with --input: the line as finally typed, at the key
	// that made it match.
	code, out, _ = runCLI("", "search", "--input", "--user", "u", "needle", dir)
	if want := b + "  +00:00:01.500  (typed) ls needlX\n"; code != 0 || out != want {
		t.Fatalf("--input: exit %d, %q, want %q", code, out, want)
	}

	code, out, _ = runCLI("", "search", "--regex", "--json", `^line \d+ needle \d$`, a, b)
	var h search.Hit
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &h) != nil {
		t.Fatalf("--json: exit %d, %q", code, out)
	}
	if d, err := player.ParseTime(h.Offset); err != nil || d != 2*time.Second || h.Sec != 2 || h.Source != "screen" || h.File != a {
		t.Errorf("--json: %+v (%v, %v)", h, d, err)
	}
}

// In a file holding two recordings (tlog's single-file layout), each is
// searched on its own and named so that play opens it; --rec picks one.
func TestSearchSharedFile(t *testing.T) {
	dir := searchDir(t)
	a := bytes.SplitAfter(readTestFile(t, filepath.Join(dir, "a.jsonl")), []byte("\n"))
	c := bytes.SplitAfter(recgen.Record("c", []recgen.Chunk{{T: time.Second, Data: []byte("needle in c")}}), []byte("\n"))
	var shared []byte
	for i := range max(len(a), len(c)) {
		if i < len(c) {
			shared = append(shared, c[i]...)
		}
		if i < len(a) {
			shared = append(shared, a[i]...)
		}
	}
	path := filepath.Join(t.TempDir(), "shared.jsonl")
	if err := os.WriteFile(path, shared, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("", "search", "needle", path)
	if code != 0 || strings.Count(out, path+" -m a  +") != 3 || !strings.Contains(out, path+" -m c  +00:00:01.000  needle in c\n") {
		t.Fatalf("exit %d, %q, %q", code, out, errOut)
	}
	code, out, _ = runCLI("", "search", "--rec", "c", "--json", "needle", path)
	var h search.Hit
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &h) != nil || h.Rec != "c" || h.File != path {
		t.Fatalf("--rec c: exit %d, %q", code, out)
	}
	if code, out, _ = runCLI("", "search", "--rec", "a", "needle", filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")); code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("--rec a over files: exit %d, %q", code, out)
	}
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSearchExitStatus(t *testing.T) {
	dir := searchDir(t)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"search", "nothing here", dir}, 1},
		{[]string{"search", "echo ok", dir}, 1}, // typed only
		{[]string{"search", "--input", "echo ok", dir}, 0},
		{[]string{"search", "--user", "nobody", "needle", dir}, 1},
		{[]string{"search", "--regex", "needle(", dir}, 2},
		{[]string{"search", "", dir}, 2},
		{[]string{"search"}, 2},
		{[]string{"search", "needle", filepath.Join(dir, "missing.jsonl"), dir}, 2},
	} {
		if code, out, errOut := runCLI("", c.args...); code != c.code {
			t.Errorf("%q: exit %d, want %d (%q, %q)", c.args, code, c.code, out, errOut)
		}
	}
	// A malformed line: the hits before it are printed, then the error.
	bad := filepath.Join(dir, "a.jsonl")
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, append(data, "{broken\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("", "search", "needle", bad)
	if code != 2 || strings.Count(out, "\n") != 3 || !strings.Contains(errOut, "a.jsonl:") {
		t.Errorf("malformed: exit %d, %q, %q", code, out, errOut)
	}
}
