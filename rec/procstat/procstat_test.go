package procstat

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestFields(t *testing.T) {
	f, err := Fields([]byte("42 (a (b) c) S 1 2 3\n"))
	if err != nil || len(f) != 4 || f[0] != "S" || f[1] != "1" {
		t.Fatalf("Fields = %q, %v", f, err)
	}
	if _, err := Fields([]byte("42 no name")); err == nil {
		t.Error("a line without a command name accepted")
	}
}

func TestRead(t *testing.T) {
	f, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ppid := f[4-3]; ppid != strconv.Itoa(os.Getppid()) {
		t.Errorf("field 4 (ppid) = %s, want %d", ppid, os.Getppid())
	}
	if _, err := Read(-1); err == nil {
		t.Error("Read(-1) succeeded")
	}
}

// CPU counts the process's time: it grows while the process computes.
func TestCPU(t *testing.T) {
	before, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		x++
	}
	after, err := CPU(os.Getpid())
	if err != nil || after-before < 50*time.Millisecond || x == 0 {
		t.Errorf("CPU grew %v (%v) over 100 ms of work, want at least 50 ms", after-before, err)
	}
	if _, err := CPU(-1); err == nil {
		t.Error("CPU(-1) succeeded")
	}
}
