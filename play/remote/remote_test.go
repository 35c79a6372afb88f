package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/fleetapi"
)

func TestParseName(t *testing.T) {
	if h, f, err := ParseName(Name("h1.example.com", "x.jsonl")); err != nil || h != "h1.example.com" || f != "x.jsonl" {
		t.Errorf("ParseName(Name): %q %q %v", h, f, err)
	}
	for _, bad := range []string{"", "x.jsonl", "/x.jsonl", "h/", "h/a/b"} {
		if _, _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q): no error", bad)
		}
	}
}

func TestDialErrors(t *testing.T) {
	for _, server := range []string{"http://c:8443", "c:8443", "https://"} {
		if _, err := Dial(server, Options{}); err == nil || !strings.Contains(err.Error(), "want https://") {
			t.Errorf("Dial(%q): %v", server, err)
		}
	}
	_, err := Dial("https://c:8443", Options{Identity: filepath.Join(t.TempDir(), "none.key")})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "vigil-play keygen") {
		t.Errorf("Dial without a key: %v", err)
	}
}

// fakeCollector serves handler on a local socket until the test ends and
// returns a client of it.
func fakeCollector(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "read.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := Dial("unix:"+sock, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A Follow hands out what is stored, io.EOF when caught up, and what was
// stored since on the next Read.
func TestFollow(t *testing.T) {
	var mu sync.Mutex
	stored := "line 1\n"
	c := fakeCollector(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if r.URL.Path != fleetapi.PathRecording || off > len(stored) {
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		io.WriteString(w, stored[off:])
	})
	f := c.Follow(context.Background(), "h", "f.jsonl")
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || string(got) != "line 1\n" {
		t.Fatalf("first read: %q %v", got, err)
	}
	if n, err := f.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("caught up: %d %v, want io.EOF", n, err)
	}
	mu.Lock()
	stored += "line 2\n"
	mu.Unlock()
	got, err = io.ReadAll(f)
	if err != nil || string(got) != "line 2\n" {
		t.Errorf("after growth: %q %v", got, err)
	}
}

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil", "reader.key")
	pub, err := Keygen(path)
	if err != nil || pub != path+".pub" {
		t.Fatalf("Keygen: %q %v", pub, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key: %v %v, want 0600", fi, err)
	}
	if _, err := Keygen(path); err == nil {
		t.Error("Keygen over an existing key: no error")
	}
}

// Fetch keeps a copy that each later Fetch only completes, fetches anew a
// copy that no longer matches, drops a copy of a recording the collector
// no longer has, and evicts copies unused for long.
func TestFetch(t *testing.T) {
	const file = "20261206T035353Z-h1.example.com-alice-rec-1.jsonl"
	var mu sync.Mutex
	stored, served, missing := strings.Repeat("line one of the recording\n", 400), 0, false
	c := fakeCollector(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if missing {
			http.Error(w, `{"error":"no such recording"}`, http.StatusNotFound)
			return
		}
		if r.URL.Path != fleetapi.PathRecording || r.URL.Query().Get("file") != file || off > len(stored) {
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		served += len(stored) - off
		io.WriteString(w, stored[off:])
	})
	dir := t.TempDir()
	fetch := func(want string, wantServed int) string {
		t.Helper()
		mu.Lock()
		served = 0
		mu.Unlock()
		path, err := c.Fetch(context.Background(), dir, "h1.example.com", file)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		fi, _ := os.Stat(path)
		if string(got) != want || served != wantServed || fi.Mode().Perm() != 0o600 {
			t.Errorf("copy of %d bytes (mode %v), %d served; want %d bytes, %d served", len(got), fi.Mode(), served, len(want), wantServed)
		}
		return path
	}
	path := fetch(stored, len(stored))
	fi0, _ := os.Stat(path)
	fetch(stored, cacheOverlap) // unchanged: only the overlap
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(fi0.ModTime()) {
		t.Errorf("an unchanged copy's mtime moved: %v, was %v (the seeking index would be rebuilt)", fi.ModTime(), fi0.ModTime())
	}
	mu.Lock()
	stored += "line two\n"
	mu.Unlock()
	fetch(stored, cacheOverlap+len("line two\n"))
	mu.Lock()
	stored = stored[:len(stored)-len("line 2b!\n")] + "line 2b!\n"
	mu.Unlock()
	fetch(stored, cacheOverlap+len(stored)) // the overlap differs: all of it
	mu.Lock()
	missing = true
	mu.Unlock()
	if _, err := c.Fetch(context.Background(), dir, "h1.example.com", file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a recording the collector no longer has: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("its copy stays: %v", err)
	}
	for _, bad := range [][2]string{{"..", file}, {"h1", "../x.jsonl"}, {"", file}, {"h1", "notes.txt"}} {
		if _, err := c.Fetch(context.Background(), dir, bad[0], bad[1]); err == nil {
			t.Errorf("Fetch(%q, %q): no error", bad[0], bad[1])
		}
	}
	// Eviction by last use.
	old := filepath.Join(filepath.Dir(path), "20250101T000000Z-h1.example.com-bob-rec-9.jsonl")
	if err := os.WriteFile(old, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-CacheMaxAge - time.Hour)
	os.Chtimes(old, long, long)
	mu.Lock()
	missing = false
	mu.Unlock()
	fetch(stored, len(stored))
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a copy unused for %v stays: %v", CacheMaxAge, err)
	}
}
