package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/listing"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// listDir writes n recordings of a few screens each into dir.
func listDir(t testing.TB, dir string, n int) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(4, 2))
	for i := range n {
		m := recgen.Meta{Rec: fmt.Sprintf("rec-%05d", i), User: fmt.Sprintf("user%d", i%7), Host: "vm",
			Start: recgen.Start.Add(time.Duration(i) * time.Minute)}
		var b bytes.Buffer
		chunks := func(yield func(recgen.Chunk) bool) {
			for j := range 4 {
				if !yield(recgen.Chunk{T: time.Duration(j) * time.Second, Data: recgen.Terminal(nil, rnd, 2000)}) {
					return
				}
			}
		}
		if err := recgen.Write(&b, m, chunks); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, m.Rec+".jsonl"), b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// markCached sets the state of every file of dir in the list cache to
// CACHED, so that a listing shows whether it came from the cache.
func markCached(t *testing.T, dir string) {
	t.Helper()
	cache := store.OpenCache(keys.Set{})
	files, _ := store.Files([]string{dir})
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		ss, ok := cache.Get(p, fi)
		if !ok {
			t.Fatalf("%s is not in the cache", p)
		}
		ss[0].State = "CACHED"
		cache.Put(p, fi, ss)
	}
	if err := cache.Save(); err != nil {
		t.Fatal(err)
	}
}

// list's cache: used while a file is unchanged, not once it was edited in
// place, even with its size and modification time put back.
func TestListCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	listDir(t, dir, 3)
	list := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI("", append([]string{"list", dir}, args...)...)
		if code != 0 {
			t.Fatalf("list: %d %s", code, errOut)
		}
		return out
	}
	if out := list(); strings.Count(out, " UNSIGNED ") != 3 {
		t.Fatalf("first list:\n%s", out)
	}
	// What the cache says is shown while the files are unchanged.
	markCached(t, dir)
	if out := list(); strings.Count(out, " CACHED ") != 3 {
		t.Fatalf("the cache was not used:\n%s", out)
	}
	if out := list("--no-cache"); strings.Count(out, " UNSIGNED ") != 3 {
		t.Fatalf("--no-cache used the cache:\n%s", out)
	}
	// (--no-cache wrote the true states back.)
	markCached(t, dir)
	path := filepath.Join(dir, "rec-00001.jsonl")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 1
	time.Sleep(10 * time.Millisecond) // a later change time
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if out := list(); strings.Count(out, " CACHED ") != 2 || !strings.Contains(out, " MODIFIED ") {
		t.Fatalf("an edited file was not verified again:\n%s", out)
	}
	// Another user's or a world-writable cache is not trusted.
	if err := os.Chmod(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "vigil-play", "list.cache"), 0o666); err != nil {
		t.Fatal(err)
	}
	if out := list(); strings.Contains(out, " CACHED ") {
		t.Fatalf("a world-writable cache was used:\n%s", out)
	}
}

// --reverse lists newest first, --limit and --offset a part of that
// order, and --verify-max-bytes leaves a large file for a later list to
// verify.
func TestListPaging(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	listDir(t, dir, 4)
	m := recgen.Meta{Rec: "large", User: "root", Host: "vm", Start: recgen.Start.Add(time.Hour)}
	if _, err := recgen.WriteFile(dir, m, recgen.Split(bytes.Repeat([]byte("x"), 100<<10))); err != nil {
		t.Fatal(err)
	}
	list := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runCLI("", append(append([]string{"list"}, args...), dir)...)
		if code != 0 {
			t.Fatalf("list %q: %d %s", args, code, errOut)
		}
		return strings.SplitAfter(out, "\n")
	}
	// Before the cache knows the large file.
	if got := list("--reverse", "--limit", "2", "--verify-max-bytes", "65536"); !strings.Contains(got[1], " UNVERIFIED ") ||
		!strings.Contains(got[1], " large ") || !strings.Contains(got[2], " UNSIGNED ") {
		t.Errorf("list --verify-max-bytes:\n%s", got)
	}
	if got := list("--reverse", "--limit", "1"); !strings.Contains(got[1], " UNSIGNED ") || !strings.Contains(got[1], " large ") {
		t.Errorf("list after --verify-max-bytes:\n%s", got)
	}
	all := list("--json")
	if len(all) != 6 || !strings.Contains(all[4], `"rec":"large","duration"`) {
		t.Fatalf("list --json:\n%s", all)
	}
	newest := list("--json", "--reverse")
	oldest := slices.Clone(newest[:5])
	slices.Reverse(oldest)
	if !slices.Equal(oldest, all[:5]) {
		t.Errorf("list --reverse:\n%s", newest)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--json", "--reverse", "--limit", "2"}, newest[:2]},
		{[]string{"--json", "--reverse", "--limit", "2", "--offset", "3"}, newest[3:5]},
		{[]string{"--json", "--limit", "3"}, all[:3]},
		{[]string{"--json", "--offset", "4"}, all[4:5]},
		{[]string{"--json", "--limit", "1", "--offset", "5"}, nil},
	} {
		if got := list(c.args...); !slices.Equal(got[:len(got)-1], c.want) {
			t.Errorf("list %q:\n%s\nwant:\n%s", c.args, got, c.want)
		}
	}
	for _, args := range [][]string{{"--limit", "-1"}, {"--offset", "-2"}, {"--verify-max-bytes", "-1"}, {"-r", "journal", "--verify-max-bytes", "1"}} {
		if code, _, errOut := runCLI("", append([]string{"list"}, args...)...); code != exitUsageErr {
			t.Errorf("list %q: %d %q, want a usage error", args, code, errOut)
		}
	}
}

// BenchmarkList10k lists 10,000 recordings (of about 12 KB, made once
// and kept in the temporary directory): "cold" reads and verifies them all,
// "warm" has the cache of the run before.
func BenchmarkList10k(b *testing.B) {
	dir := filepath.Join(os.TempDir(), "vigil-play-bench", "list10k")
	if _, err := os.Stat(filepath.Join(dir, "rec-09999.jsonl")); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		listDir(b, dir, 10000)
	}
	b.Setenv("XDG_CACHE_HOME", b.TempDir())
	list := func(args ...string) {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"list", dir}, args...), nil, &out, &errOut); code != 0 ||
			strings.Count(out.String(), "\n") != 10001 {
			b.Fatalf("list: %d %s", code, errOut.String())
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			list("--no-cache")
		}
	})
	b.Run("warm", func(b *testing.B) {
		list()
		for b.Loop() {
			list()
		}
	})
}

// A recording under a legal hold (vigilctl hold) is marked HELD; --held
// lists only those.
func TestListHeld(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	listDir(t, dir, 3)
	code, out, errOut := runCLI("", "list", "--json", dir)
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	var first listing.Row
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first); err != nil || first.Rec == "" {
		t.Fatalf("first listing %q: %v", out, err)
	}
	if err := store.Place(dir, store.Hold{Rec: first.Rec, Since: time.Now(), By: "auditor", Reason: "case 42"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI("", "list", dir)
	if code != 0 || strings.Count(out, " HELD  "+first.Rec) != 1 || strings.Count(out, " HELD ") != 2 { // the header and one row
		t.Fatalf("list with a hold: %d %s\n%s", code, errOut, out)
	}
	code, out, _ = runCLI("", "list", "--held", "--json", dir)
	var held listing.Row
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &held) != nil ||
		held.Rec != first.Rec || held.Hold == nil || held.Hold.Reason != "case 42" {
		t.Fatalf("list --held: %d\n%s", code, out)
	}
}
