package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteData(path, Options{Mode: 0o644}, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if data, _ := os.ReadFile(path); err != nil || string(data) != "new" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("%q, %v, %v", data, fi.Mode(), err)
	}
	if os.Geteuid() == 0 {
		if err := WriteData(path, Options{Mode: 0o640, Owner: &Owner{UID: -1, GID: 4242}}, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Sys().(*syscall.Stat_t).Gid != 4242 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("owner of %v: %v", fi.Sys(), err)
		}
	}
	onlyFile(t, dir)
}

// A failing writer leaves the old file and no temporary file.
func TestWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, Options{Mode: 0o600}, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("the file holds %q", data)
	}
	onlyFile(t, dir)
}

// NoReplace never touches an existing file.
func TestWriteNoReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteData(path, Options{Mode: 0o640, NoReplace: true}, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteData(path, Options{Mode: 0o640, NoReplace: true}, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "first" {
		t.Errorf("the file holds %q", data)
	}
	onlyFile(t, dir)
}

func onlyFile(t *testing.T, dir string) {
	t.Helper()
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 1 {
		t.Errorf("files left: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
