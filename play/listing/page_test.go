package listing

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// pageBase is when the recordings of pageDir start.
var pageBase = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// pageDir writes recordings as the file writer names them, 30 of them,
// three at a time in the same second (0, 0.1 and 0.2 s into it, 2
// minutes apart), every third by bob; a file of two recordings as tlog's
// single file holds them, in the middle of those, last written when the
// later ended; an empty file. It returns their files.
func pageDir(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i := range 30 {
		user := "alice"
		if i%3 == 0 {
			user = "bob"
		}
		m := recgen.Meta{Rec: fmt.Sprintf("r%02d", i), User: user, Host: "h",
			Start: pageBase.Add(time.Duration(i/3)*2*time.Minute + time.Duration(i%3)*100*time.Millisecond)}
		path, err := recgen.WriteFile(dir, m, []recgen.Chunk{{T: time.Second, Data: []byte("hello\r\n")}})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	var shared bytes.Buffer
	for i, at := range []time.Duration{9 * time.Minute, 9*time.Minute + 30*time.Second} {
		m := recgen.Meta{Rec: fmt.Sprintf("s%d", i), User: "carol", Host: "h", Start: pageBase.Add(at)}
		if err := recgen.Write(&shared, m, slices.Values([]recgen.Chunk{{T: time.Second, Data: []byte("hi\r\n")}})); err != nil {
			t.Fatal(err)
		}
	}
	sharedPath, empty := filepath.Join(dir, "tlog.jsonl"), filepath.Join(dir, "empty.jsonl")
	for path, data := range map[string][]byte{sharedPath: shared.Bytes(), empty: nil} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if end := pageBase.Add(9*time.Minute + 31*time.Second); os.Chtimes(sharedPath, end, end) != nil {
		t.Fatal("chtimes")
	}
	return append(files, sharedPath, empty)
}

// keysOf names rows for comparing: file, recording, state.
func keysOf(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s %s\n", filepath.Base(r.File), r.Rec, r.State)
	}
	return b.String()
}

// checkPages checks that each limited list of files is the part of the
// whole list at its place, with or without a filter, whether the cache
// knows the files or not.
func checkPages(t *testing.T, files []string, pages []Page) {
	t.Helper()
	warm := &Lister{Cache: store.OpenCache(keys.Set{})}
	warm.Files(files)
	for _, p := range pages {
		for name, match := range map[string]func(*Row) bool{"all": func(*Row) bool { return true }, "bob": func(r *Row) bool { return r.User == "bob" }} {
			whole, errs := Collect((&Lister{Cache: store.OpenCache(keys.Set{})}).Files(files), match, Page{Reverse: p.Reverse})
			if len(errs) != 0 || len(whole) < 10 {
				t.Fatalf("the whole list: %d rows, %v", len(whole), errs)
			}
			want := keysOf(whole[min(p.Offset, len(whole)):min(p.Offset+p.Limit, len(whole))])
			for cache, l := range map[string]*Lister{"cold": {Cache: store.OpenCache(keys.Set{})}, "warm": warm} {
				got, errs := l.List(files, match, p)
				if len(errs) != 0 || keysOf(got) != want {
					t.Errorf("%+v of %s, cache %s: %v\n%s\nwant:\n%s", p, name, cache, errs, keysOf(got), want)
				}
			}
		}
	}
}

// A limited list is the part of the whole list at its place, in either
// order.
func TestListPage(t *testing.T) {
	files := pageDir(t)
	checkPages(t, files, []Page{
		{Reverse: true, Limit: 1}, {Reverse: true, Limit: 5}, {Reverse: true, Offset: 2, Limit: 5}, {Reverse: true, Offset: 12, Limit: 7},
		{Reverse: true, Offset: 28, Limit: 10}, {Reverse: true, Limit: 100}, {Reverse: true, Offset: 40, Limit: 1},
		{Limit: 5}, {Offset: 3, Limit: 4}, {Offset: 30, Limit: 5},
	})
	all := func(*Row) bool { return true }
	// Newest first is list's order backwards: rows of the same second by
	// their exact start, an unknown start (the empty file) last.
	rows, _ := (&Lister{Cache: store.OpenCache(keys.Set{})}).List(files, all, Page{Reverse: true, Limit: 4})
	if got := keysOf(rows); got != "20261201T091800Z-h-alice-r29.jsonl r29 UNSIGNED\n20261201T091800Z-h-alice-r28.jsonl r28 UNSIGNED\n"+
		"20261201T091800Z-h-bob-r27.jsonl r27 UNSIGNED\n20261201T091600Z-h-alice-r26.jsonl r26 UNSIGNED\n" {
		t.Errorf("the newest 4:\n%s", got)
	}
	rows, _ = (&Lister{Cache: store.OpenCache(keys.Set{})}).List(files, all, Page{Reverse: true, Offset: 31, Limit: 5})
	if got := keysOf(rows); got != "20261201T090000Z-h-bob-r00.jsonl r00 UNSIGNED\nempty.jsonl  EMPTY\n" {
		t.Errorf("the oldest 2, newest first:\n%s", got)
	}
}

// Many recordings started in the same second, more than are peeked at
// once: their file names cannot tell which is the newest.
func TestListPageSameSecond(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 40 {
		user := "alice"
		if i%2 == 0 {
			user = "bob"
		}
		// The later start, the earlier name.
		m := recgen.Meta{Rec: fmt.Sprintf("r%02d", 39-i), User: user, Host: "h", Start: pageBase.Add(time.Duration(i) * 20 * time.Millisecond)}
		path, err := recgen.WriteFile(dir, m, []recgen.Chunk{{T: time.Second, Data: []byte("hello\r\n")}})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	checkPages(t, files, []Page{{Reverse: true, Limit: 1}, {Reverse: true, Offset: 17, Limit: 3}, {Limit: 2}})
}

// A limited list newest first reads only the files it needs to place its
// rows, and verifies only those of its rows: an old file that cannot be
// read is not even tried, nor is tlog's file of older recordings.
func TestListReadsOnlyThePage(t *testing.T) {
	files := pageDir(t)
	broken := filepath.Join(filepath.Dir(files[0]), "20200101T000000Z-h-alice-old.jsonl")
	if err := os.Symlink("nowhere", broken); err != nil {
		t.Fatal(err)
	}
	files = append(files, broken)
	if _, errs := Collect((&Lister{Cache: store.OpenCache(keys.Set{})}).Files(files), func(*Row) bool { return true }, Page{}); len(errs) != 1 {
		t.Fatalf("the whole list: errors %v, want the broken file's", errs)
	}
	var verified int64
	l := &Lister{Cache: store.OpenCache(keys.Set{}), Progress: func(_, total int64) { verified = total }}
	rows, errs := l.List(files, func(*Row) bool { return true }, Page{Reverse: true, Limit: 5})
	if len(errs) != 0 || len(rows) != 5 {
		t.Fatalf("%d rows, errors %v", len(rows), errs)
	}
	var want int64
	for _, r := range rows {
		want += r.Size
	}
	if verified != want {
		t.Errorf("verified %d bytes, the rows' files have %d", verified, want)
	}
}

// With VerifyMax, a large file among the page's is not verified but
// peeked at, and the cache does not keep it: a later list verifies it
// (and finds it was edited, which the peek could not see).
func TestListLargeFileUnverified(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	files := pageDir(t)
	m := recgen.Meta{Rec: "large", User: "dave", Host: "h", Start: pageBase.Add(time.Hour)}
	large, err := recgen.WriteFile(filepath.Dir(files[0]), m, recgen.Split(bytes.Repeat([]byte("x"), 100<<10)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(large)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] = 'y'
	if err := os.WriteFile(large, data, 0o600); err != nil {
		t.Fatal(err)
	}
	files = append(files, large)

	var verified int64
	l := &Lister{Cache: store.OpenCache(keys.Set{}), VerifyMax: 10 << 10, Progress: func(_, total int64) { verified = total }}
	rows, errs := l.List(files, func(*Row) bool { return true }, Page{Reverse: true, Limit: 3})
	if len(errs) != 0 || len(rows) != 3 || rows[0].File != large || rows[0].State != store.Unverified ||
		rows[0].User != "dave" || !rows[0].Start.Equal(m.Start) || rows[0].Size != int64(len(data)) || rows[1].State != "UNSIGNED" {
		t.Fatalf("errors %v, rows:\n%+v", errs, rows)
	}
	if verified != rows[1].Size+rows[2].Size {
		t.Errorf("verified %d bytes, want only the small files' %d", verified, rows[1].Size+rows[2].Size)
	}
	if err := l.Cache.Save(); err != nil {
		t.Fatal(err)
	}
	cache := store.OpenCache(keys.Set{})
	fi, err := os.Stat(large)
	if err != nil {
		t.Fatal(err)
	}
	if ss, ok := cache.Get(large, fi); ok {
		t.Fatalf("the cache keeps the large file unverified: %+v", ss)
	}
	rows, _ = (&Lister{Cache: cache}).List(files, func(*Row) bool { return true }, Page{Reverse: true})
	if rows[0].File != large || rows[0].State != "MODIFIED" {
		t.Errorf("the whole list after: %+v", rows[0])
	}
}
