package session

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	remove, err := Register(dir, Registration{Rec: "r1", Session: 42, Start: start, User: "alice", Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Register(dir, Registration{Rec: "../x", Session: 1}); err == nil {
		t.Error("a rec id with a slash was registered")
	}
	unset, err := Register(dir, Registration{Rec: "r2", Session: UnsetSession})
	if err != nil || unset() != nil {
		t.Fatal(err)
	}
	// Noise the reader must skip or report.
	os.WriteFile(filepath.Join(dir, "session.42.lock"), []byte("1 2\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "recording.bad.json"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dir, "recording.r9.json"), []byte(`{"rec":"r8"}`), 0o644)
	regs, errs := Registrations(dir)
	r, ok := regs["r1"]
	if len(regs) != 1 || !ok || len(errs) != 2 {
		t.Fatalf("registrations %v, errors %v", regs, errs)
	}
	if r.Session != 42 || r.PID != os.Getpid() || !r.Start.Equal(start) || r.User != "alice" || !r.Alive() {
		t.Errorf("registration %+v", r)
	}
	r.PIDStart++
	if r.Alive() {
		t.Error("a reused PID counts as the recorder")
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	if regs, _ := Registrations(dir); len(regs) != 0 {
		t.Errorf("after remove: %v", regs)
	}
}
