package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

// Peek says what Describe says of a recording but its integrity, which
// it leaves Unverified; it gives up on files that are not one recording,
// and the cache never keeps what it found.
func TestPeek(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	start := time.Date(2026, 12, 1, 9, 30, 0, 250e6, time.UTC)
	path, err := storetest.Write(dir, storetest.Spec{Rec: "r1", User: "alice", Host: "h", Start: start, Duration: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	described, err := store.Describe(path, keys.Set{})
	if err != nil || len(described) != 1 {
		t.Fatalf("Describe: %+v %v", described, err)
	}
	peeked, ok, err := store.Peek(path)
	if err != nil || !ok {
		t.Fatalf("Peek: %v %v", ok, err)
	}
	if peeked.State != store.Unverified || peeked.LastHash != "" {
		t.Errorf("Peek's state %q, last hash %q", peeked.State, peeked.LastHash)
	}
	want := described[0]
	want.State, want.Detail, want.LastHash = peeked.State, peeked.Detail, ""
	if peeked != want {
		t.Errorf("Peek:\n%+v\nwant (Describe's):\n%+v", peeked, want)
	}

	// Two recordings in one file, and a file with no message: only
	// Describe can tell.
	other, err := storetest.Write(t.TempDir(), storetest.Spec{Rec: "r2", User: "bob", Host: "h", Start: start, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(other)
	two, empty := filepath.Join(dir, "two.jsonl"), filepath.Join(dir, "empty.jsonl")
	for p, data := range map[string][]byte{two: append(a, b...), empty: nil} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, ok, err := store.Peek(p); ok || err != nil {
			t.Errorf("Peek(%s) = %+v %v %v, want not ok", filepath.Base(p), s, ok, err)
		}
	}
	if _, _, err := store.Peek(filepath.Join(dir, "missing.jsonl")); !os.IsNotExist(err) {
		t.Errorf("Peek of a missing file: %v", err)
	}

	cache := store.OpenCache(keys.Set{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	cache.Put(path, fi, []store.Summary{peeked})
	if ss, ok := cache.Get(path, fi); ok {
		t.Errorf("the cache kept a Peek's summary: %+v", ss)
	}
	cache.Put(path, fi, described)
	if ss, ok := cache.Get(path, fi); !ok || ss[0] != described[0] {
		t.Errorf("the cache lost Describe's summary: %+v %v", ss, ok)
	}
}

// A recording's duration is the number its last event's time reads as
// to the millisecond (3.736, not 3.7359999999999998): the Cockpit player
// played up to the duration and never reached that event.
func TestDurationExact(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	start := time.Date(2026, 12, 6, 19, 44, 54, 0, time.UTC)
	path, err := storetest.Write(t.TempDir(), storetest.Spec{Rec: "r", User: "alice", Host: "h", Start: start, Duration: 3736 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Describe(path, keys.Set{})
	if err != nil || len(s) != 1 {
		t.Fatalf("Describe: %+v %v", s, err)
	}
	if s[0].Duration != 3.736 {
		t.Errorf("duration %v, want 3.736", s[0].Duration)
	}
}
