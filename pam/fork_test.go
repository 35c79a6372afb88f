package pam

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/pam/pamtest"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// TestForkAfterOpen: a login program's children run after pam_vigil was
// loaded and used by the parent; none of them may hang resolving users
// (design.md §3).
func TestForkAfterOpen(t *testing.T) {
	svctest.RequireRoot(t)
	dir := t.TempDir()
	prog := filepath.Join(dir, "forkcheck")
	if out, err := exec.Command("gcc", "-Wall", "-Werror", "-o", prog, "testdata/forkcheck.c", "-lpam").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	addr := svctest.StartSystemBus(t)
	pamtest.Serve(t, addr, policy)
	svc := t.TempDir()
	if err := os.WriteFile(filepath.Join(svc, "vtest"), []byte("session required "+module+"\nsession required pam_permit.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "vtest", "alice", "20")
	cmd.Env = pamtest.Env(append(pamtest.NSSEnv(t, t.TempDir(), users...),
		"DBUS_SYSTEM_BUS_ADDRESS="+addr, "LD_PRELOAD="+pamtest.PamWrapper+" "+pamtest.NSSWrapper,
		"PAM_WRAPPER=1", "PAM_WRAPPER_SERVICE_DIR="+svc)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("forkcheck hung (killed after 10 s):\n%s", out)
	}
	if err != nil {
		t.Fatalf("forkcheck: %v\n%s", err, out)
	}
	// The module really ran: alice's real shell from the fake policy.
	if !strings.Contains(string(out), "VIGIL_REC_SHELL=/bin/zsh\n") || !strings.Contains(string(out), "20 children, 0 failed") {
		t.Fatalf("forkcheck output:\n%s", out)
	}
}
