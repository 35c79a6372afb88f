package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestHolds(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	holds, err := LoadHolds(HoldsDir(dir))
	if err != nil || len(holds) != 0 {
		t.Fatalf("no holds dir: %v %v", holds, err)
	}
	h := Hold{Rec: "abc-1-2", Since: now, By: "root", Reason: "case 42"}
	if err := Place(dir, h); err != nil {
		t.Fatal(err)
	}
	if err := Place(dir, Hold{Rec: "abc-1-2", By: "eve"}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second hold: %v", err)
	}
	for _, bad := range []string{"../x", ".hidden", "", "a/b", strings.Repeat("a", 256)} {
		if err := Place(dir, Hold{Rec: bad}); err == nil {
			t.Errorf("hold %q placed", bad)
		}
	}
	holds, err = LoadHolds(HoldsDir(dir))
	if got, ok := holds.Held("abc-1-2"); err != nil || !ok || got.Reason != "case 42" || got.By != "root" || !got.Since.Equal(now) {
		t.Errorf("held: %+v %v %v", got, ok, err)
	}
	if _, ok := holds.Held("other"); ok {
		t.Error("other is held")
	}
	for path, want := range map[string]os.FileMode{HoldsDir(dir): fs.ModeDir | 0o750, filepath.Join(HoldsDir(dir), "abc-1-2.json"): 0o640} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want %v", path, fi.Mode(), err, want)
		}
	}

	// A damaged hold file is reported; the other holds still count.
	if err := os.WriteFile(filepath.Join(HoldsDir(dir), "bad.json"), []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(HoldsDir(dir), "x.json"), []byte(`{"rec":"y"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	holds, err = LoadHolds(HoldsDir(dir))
	if _, ok := holds.Held("abc-1-2"); !ok || err == nil || !strings.Contains(err.Error(), "bad.json") ||
		!strings.Contains(err.Error(), `x.json: holds recording "y", but is named for "x"`) {
		t.Errorf("damaged holds: %v %v", holds, err)
	}

	if got, err := Release(dir, "abc-1-2"); err != nil || got.Reason != "case 42" {
		t.Errorf("release: %+v %v", got, err)
	}
	if _, err := Release(dir, "abc-1-2"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second release: %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	placed := make(chan error)
	go func() { placed <- Place(dir, Hold{Rec: "r", By: "x"}) }()
	select {
	case err := <-placed:
		t.Fatalf("hold placed while purge holds the lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	if err := <-placed; err != nil {
		t.Fatal(err)
	}
}

func TestHoldDirGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give the directory another group")
	}
	dir := t.TempDir()
	if err := os.Chown(dir, -1, 4); err != nil { // adm, any group but root's
		t.Fatal(err)
	}
	if err := Place(dir, Hold{Rec: "r", By: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{HoldsDir(dir), filepath.Join(HoldsDir(dir), "r.json")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Sys().(*syscall.Stat_t).Gid != 4 {
			t.Errorf("%s: group %v %v, want 4", p, fi.Sys().(*syscall.Stat_t).Gid, err)
		}
	}
}
