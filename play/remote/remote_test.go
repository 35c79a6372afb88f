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

// A Follow hands out what is stored, io.EOF when caught up, and what was
// stored since on the next Read.
func TestFollow(t *testing.T) {
	var mu sync.Mutex
	stored := "line 1\n"
	dir := t.TempDir()
	sock := filepath.Join(dir, "read.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if r.URL.Path != fleetapi.PathRecording || off > len(stored) {
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		io.WriteString(w, stored[off:])
	})}
	go srv.Serve(l)
	defer srv.Close()
	c, err := Dial("unix:"+sock, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
