package tlog

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestNewRecID(t *testing.T) {
	id, err := NewRecID()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^[0-9a-f]{32}-([0-9a-f]+)-[0-9a-f]+$`)
	m := re.FindStringSubmatch(id)
	if m == nil || m[1] != fmt.Sprintf("%x", os.Getpid()) {
		t.Fatalf("rec ID %q", id)
	}
	boot, _ := os.ReadFile(bootIDPath)
	if !strings.HasPrefix(id, strings.ReplaceAll(strings.TrimSpace(string(boot)), "-", "")) {
		t.Fatalf("rec ID %q does not start with boot id %q", id, boot)
	}
}

func TestNewRecIDSpecExample(t *testing.T) {
	dir := t.TempDir()
	defer func(b, s string) { bootIDPath, selfStatPath = b, s }(bootIDPath, selfStatPath)
	bootIDPath = filepath.Join(dir, "boot_id")
	selfStatPath = filepath.Join(dir, "stat")
	mustNoErr(t, os.WriteFile(bootIDPath, []byte("88003682-2e70-4a8f-8b7f-642af594eba7\n"), 0o600))
	// A command name with spaces and ')' must not shift the fields.
	stat := "6690 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 137402 9 9 9\n"
	mustNoErr(t, os.WriteFile(selfStatPath, []byte(stat), 0o600))
	id, err := NewRecID()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("880036822e704a8f8b7f642af594eba7-%x-218ba", os.Getpid())
	if id != want {
		t.Fatalf("got %q want %q", id, want)
	}
	mustNoErr(t, os.WriteFile(selfStatPath, []byte("1 (x) S 1 2"), 0o600))
	if _, err := NewRecID(); err == nil || !strings.Contains(err.Error(), "fields") {
		t.Fatalf("short stat accepted: %v", err)
	}
	mustNoErr(t, os.WriteFile(bootIDPath, []byte("\n"), 0o600))
	if _, err := NewRecID(); err == nil {
		t.Fatal("empty boot id accepted")
	}
}

func TestSessionID(t *testing.T) {
	want, err := os.ReadFile(sessionIDPath)
	if err != nil {
		t.Skipf("no audit session support: %v", err)
	}
	id, err := SessionID()
	if err != nil || fmt.Sprint(id) != strings.TrimSpace(string(want)) {
		t.Fatalf("SessionID = %d, %v; file has %q", id, err, want)
	}
	defer func(p string) { sessionIDPath = p }(sessionIDPath)
	sessionIDPath = filepath.Join(t.TempDir(), "sessionid")
	mustNoErr(t, os.WriteFile(sessionIDPath, []byte("4294967296"), 0o600))
	if _, err := SessionID(); err == nil {
		t.Fatal("out of range session accepted")
	}
}
