package procstat

import (
	"os"
	"strconv"
	"testing"
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
