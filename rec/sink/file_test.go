package sink

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/svctest"
)

var testMeta = FileMeta{
	Start: time.Date(2026, 11, 22, 21, 4, 5, 0, time.FixedZone("CET", 3600)),
	Host:  "vm.example.org",
	User:  "rüdiger",
	Rec:   testRec,
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"":            "_",
		"alice":       "alice",
		"rüdiger":     "rüdiger",
		".hidden":     "_hidden",
		"..":          "_.",
		"a/../b":      "a_.._b",
		"tab\there":   "tab_here",
		"nl\n":        "nl_",
		"esc\x1b[1m":  "esc_[1m",
		"bad\xffutf8": "bad_utf8",
		`back\slash`:  "back_slash",
		"dom.ain":     "dom.ain",
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileName(t *testing.T) {
	want := "20261122T200405Z-vm.example.org-rüdiger-" + testRec + ".jsonl"
	if got := testMeta.Name(); got != want {
		t.Fatalf("Name() = %q, want %q", got, want)
	}
	m := testMeta
	m.Host, m.User = "../etc", ".x/y"
	if got := m.Name(); got != "20261122T200405Z-_._etc-_x_y-"+testRec+".jsonl" {
		t.Fatalf("Name() = %q: host/user not sanitized", got)
	}
}

// withUmask runs f with the process umask set to mask.
func withUmask(mask int, f func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func writeAll(t *testing.T, s msg.Sink, ms []*msg.Message) {
	t.Helper()
	for _, m := range ms {
		if err := s.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFileDirPerRecording(t *testing.T) {
	for _, mask := range []int{0o077, 0o000} {
		dir := t.TempDir()
		var s *File
		withUmask(mask, func() {
			var err error
			// A path ending in "/" is a directory even before Stat says so.
			if s, err = OpenFile(dir+"/", testMeta); err != nil {
				t.Fatal(err)
			}
		})
		if want := filepath.Join(dir, testMeta.Name()); s.Path() != want {
			t.Fatalf("Path() = %q, want %q", s.Path(), want)
		}
		ms := []*msg.Message{tlogMessage(t, testRec, 1, "héllo 😀\r\n"), tlogMessage(t, testRec, 2, "bye")}
		writeAll(t, s, ms)
		if m := mode(t, s.Path()); m != FileMode {
			t.Errorf("umask %03o: mode %v, want %v", mask, m, os.FileMode(FileMode))
		}
		data, err := os.ReadFile(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, string(data), ms)
		if err := s.WriteMessage(ms[0]); err == nil {
			t.Error("write after Close succeeded")
		}
	}
}

// TestFileBatches: ordinary messages are gathered until BatchSize; a
// Checkpoint or Final message, Flush and Close write them, in order.
func TestFileBatches(t *testing.T) {
	s, err := OpenFile(t.TempDir()+"/", testMeta)
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var ms []*msg.Message
	write := func(m *msg.Message) {
		t.Helper()
		ms = append(ms, m)
		if err := s.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	write(tlogMessage(t, testRec, 1, "one"))
	write(tlogMessage(t, testRec, 2, "two"))
	if size() != 0 || !s.Buffered() {
		t.Fatalf("after two small messages: %d bytes written, buffered %v; want 0, true", size(), s.Buffered())
	}
	cp := tlogMessage(t, testRec, 3, "three")
	cp.Checkpoint = true
	write(cp)
	if s.Buffered() {
		t.Fatal("a Checkpoint message left lines buffered")
	}
	written := size()
	write(tlogMessage(t, testRec, 4, "four"))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if size() <= written || s.Buffered() {
		t.Fatal("Flush did not write the buffered line")
	}
	for id := uint64(5); size() < BatchSize; id++ {
		write(tlogMessage(t, testRec, id, strings.Repeat("x", 1000)))
		if id > 2*BatchSize/1000 {
			t.Fatalf("%d bytes gathered and still not written", BatchSize)
		}
	}
	write(tlogMessage(t, testRec, 1000, "last"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, string(data), ms)
}

func TestFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, testMeta.Name())
	if err := os.WriteFile(first, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A symlink planted under the next name must not be followed.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("victim\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(first, ".jsonl")
	if err := os.Symlink(victim, base+".1.jsonl"); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(dir, testMeta) // existing directory, no trailing slash
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != base+".2.jsonl" {
		t.Fatalf("Path() = %q, want %q", s.Path(), base+".2.jsonl")
	}
	ms := []*msg.Message{tlogMessage(t, testRec, 1, "x")}
	writeAll(t, s, ms)
	for p, want := range map[string]string{first: "keep\n", victim: "victim\n", s.Path(): string(ms[0].Line)} {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
}

func TestFileAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tlog.log")
	var s *File
	withUmask(0o077, func() {
		var err error
		if s, err = OpenFile(path, testMeta); err != nil {
			t.Fatal(err)
		}
	})
	if s.Path() != path {
		t.Fatalf("Path() = %q, want %q", s.Path(), path)
	}
	a := []*msg.Message{tlogMessage(t, "rec-a", 1, "a1")}
	writeAll(t, s, a)
	if m := mode(t, path); m != FileMode {
		t.Errorf("new file mode %v, want %v", m, os.FileMode(FileMode))
	}
	// A second recording appends; the mode of an existing file is kept.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(path, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	b := []*msg.Message{tlogMessage(t, "rec-b", 1, "b1"), tlogMessage(t, "rec-b", 2, "b2")}
	writeAll(t, s, b)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, string(data), append(a, b...))
	if m := mode(t, path); m != 0o600 {
		t.Errorf("existing file mode changed to %v", m)
	}
}

func TestFileOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", filepath.Join(dir, "missing") + "/", filepath.Join(dir, "no", "such", "file")} {
		if s, err := OpenFile(p, testMeta); err == nil {
			s.Close()
			t.Errorf("OpenFile(%q) succeeded", p)
		} else if !strings.Contains(err.Error(), "file sink") {
			t.Errorf("OpenFile(%q) error lacks context: %v", p, err)
		}
	}
}

// TestFileDiskFull fills a small tmpfs until a write fails part-way, then
// frees space: the next write must complete the held tail first so that the
// file ends up with every message exactly once and no broken line. The first
// batch (BatchSize) is larger than the 32 KiB left free.
func TestFileDiskFull(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	dir := filepath.Join(t.TempDir(), "small")
	svctest.Tmpfs(t, dir, "size=256k,mode=755")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 224<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(dir, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*msg.Message
	next := func() *msg.Message {
		m := tlogMessage(t, testRec, uint64(len(ms)+1), strings.Repeat("é", 450))
		ms = append(ms, m)
		return m
	}
	for err == nil {
		if len(ms) > 200 {
			t.Fatal("tmpfs never filled up")
		}
		err = s.WriteMessage(next())
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("write error %v: want ENOSPC naming the file", err)
	}
	data, rerr := os.ReadFile(s.Path())
	if rerr != nil {
		t.Fatal(rerr)
	}
	if strings.HasSuffix(string(data), "\n") {
		t.Fatalf("disk filled on a line boundary (%d bytes): the partial-write path was not exercised", len(data))
	}
	// Still full: the sink keeps accepting and reporting.
	if err := s.WriteMessage(next()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write while full: %v, want ENOSPC", err)
	}
	// The recorder retries by sending the failed message again: that must
	// not queue it a second time.
	failed := ms[len(ms)-1]
	if err := s.WriteMessage(failed); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("retry while full: %v, want ENOSPC", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteMessage(failed); err != nil {
		t.Fatalf("retry after freeing space: %v", err)
	}
	if err := s.WriteMessage(next()); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, string(data), ms)
}

func TestFileCloseReportsUnwritten(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	dir := filepath.Join(t.TempDir(), "tiny")
	svctest.Tmpfs(t, dir, "size=4k,mode=755")
	s, err := OpenFile(dir, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	// The sink may hold the line (batching) or fail writing it.
	if err := s.WriteMessage(tlogMessage(t, testRec, 1, strings.Repeat("x", 8000))); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write: %v, want ENOSPC or nil", err)
	}
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close with unwritten bytes: %v, want ENOSPC", err)
	}
}

func TestOpen(t *testing.T) {
	c := conf.DefaultRec()
	c.File.Path = t.TempDir()
	s, err := Open(c, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := s.(*File)
	if !ok || filepath.Base(f.Path()) != testMeta.Name() {
		t.Fatalf("Open(file) = %T %v", s, s)
	}
	writeAll(t, s, []*msg.Message{tlogMessage(t, testRec, 1, "x")})

	for _, tc := range []struct {
		mod  func(*conf.Rec)
		want string
	}{
		{func(c *conf.Rec) { c.Writer = "es" }, `unknown writer "es"`},
		{func(c *conf.Rec) { c.File.Path = "/nonexistent/dir/" }, `writer file (path "/nonexistent/dir/")`},
		{func(c *conf.Rec) { c.Writer = "syslog"; c.Syslog.Facility = "bogus" }, `writer syslog (facility bogus): syslog sink: unknown syslog facility "bogus"`},
		{func(c *conf.Rec) { c.Writer = "journal"; c.Journal.Priority = "loud" }, `writer journal: journal sink: unknown priority "loud"`},
	} {
		c := conf.DefaultRec()
		tc.mod(&c)
		if s, err := Open(c, testMeta); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", c)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open error %q, want it to contain %q", err, tc.want)
		}
	}
}
