package sink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/svctest"
)

var testMeta = store.Meta{
	Start: time.Date(2026, 11, 22, 21, 4, 5, 0, time.FixedZone("CET", 3600)),
	Host:  "vm.example.org",
	User:  "rüdiger",
	Rec:   testRec,
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
		if want := filepath.Join(dir, testMeta.Name(0)); s.Path() != want {
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
	closeAndCheck(t, s, ms)
}

func TestFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, testMeta.Name(0))
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

// closeAndCheck closes s and checks that its file holds ms, line by line.
func closeAndCheck(t *testing.T, s *File, ms []*msg.Message) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, string(data), ms)
}

// nextMessage appends the next ~1 KiB message to ms and returns it.
func nextMessage(t *testing.T, ms *[]*msg.Message) *msg.Message {
	m := tlogMessage(t, testRec, uint64(len(*ms)+1), strings.Repeat("é", 450))
	*ms = append(*ms, m)
	return m
}

// smallDisk mounts a tmpfs of size KiB and fills it to leave free bytes.
func smallDisk(t *testing.T, size, free int) (dir, filler string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "small")
	svctest.Tmpfs(t, dir, fmt.Sprintf("size=%dk,mode=755", size))
	filler = filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, size<<10-free), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, filler
}

// TestFileDiskFullReserve fills a small tmpfs: every message the sink is
// given still lands in the file (the reserve holds it), the sink says it is
// low instead of failing, the end fits, and Close gives the reserve back.
// Renewing works again once there is room.
func TestFileDiskFullReserve(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	dir, filler := smallDisk(t, 256, 96<<10)
	s, err := OpenFile(dir, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*msg.Message
	next := func() *msg.Message { return nextMessage(t, &ms) }
	for !s.Low() {
		if len(ms) > 200 {
			t.Fatal("the sink never ran low")
		}
		if err := s.WriteMessage(next()); err != nil {
			t.Fatalf("message %d: %v", len(ms), err)
		}
	}
	if err := s.Reserve(); !errors.Is(err, msg.ErrNoSpace) || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("Reserve while full: %v, want ErrNoSpace naming the file", err)
	}
	// What the recorder still writes once low: the messages it holds and
	// the end, all inside the reserve.
	for range 3 {
		if err := s.WriteMessage(next()); err != nil {
			t.Fatalf("message %d while low: %v", len(ms), err)
		}
	}
	end := next()
	end.Final = true
	if err := s.WriteMessage(end); err != nil {
		t.Fatalf("final message while low: %v", err)
	}
	closeAndCheck(t, s, ms)
	var st syscall.Stat_t
	if err := syscall.Stat(s.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if allocated := st.Blocks * 512; allocated > st.Size+4096 {
		t.Errorf("%d bytes allocated for a %d-byte recording: the reserve was kept", allocated, st.Size)
	}

	// Another recording does not start without room for its reserve, and
	// does once there is room again.
	_, err = OpenFile(dir, store.Meta{Start: testMeta.Start, Host: "h", User: "u", Rec: "r2"})
	if err == nil {
		t.Fatal("a recording started with no room for its reserve")
	}
	if !errors.Is(err, msg.ErrNoSpace) {
		t.Fatalf("open without room: %v, want ErrNoSpace", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*-r2.jsonl")); len(left) != 0 {
		t.Errorf("a recording that did not start left %v", left)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFile(dir, store.Meta{Start: testMeta.Start, Host: "h", User: "u", Rec: "r2"})
	if err != nil {
		t.Fatalf("open with room: %v", err)
	}
	if err := s.Reserve(); err != nil || s.Low() {
		t.Errorf("Reserve with room: %v, low %v", err, s.Low())
	}
	s.Close()
}

// TestFileDiskFullNoReserve is the file system without fallocate: a write
// fails part-way, the file is cut back to its last whole line, and the next
// write once there is room completes the held tail, so that the file ends up
// with every message exactly once and no broken line.
func TestFileDiskFullNoReserve(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	dir, filler := smallDisk(t, 256, 96<<10)
	s, err := OpenFile(dir, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	// As without fallocate: no reserve, and the space it held is free.
	s.reserve = false
	if err := s.f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	var ms []*msg.Message
	next := func() *msg.Message { return nextMessage(t, &ms) }
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
	if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("the file ends in a torn line (%d bytes)", len(data))
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
	dir, _ := smallDisk(t, 256, 80<<10)
	s, err := OpenFile(dir, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	s.reserve = false
	if err := s.f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	// The sink may hold the line (batching) or fail writing it.
	if err := s.WriteMessage(tlogMessage(t, testRec, 1, strings.Repeat("x", 100000))); err != nil && !errors.Is(err, syscall.ENOSPC) {
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
	if !ok || filepath.Base(f.Path()) != testMeta.Name(0) {
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
