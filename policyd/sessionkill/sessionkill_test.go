package sessionkill

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startTree starts, below a child subreaper (this test process), a shell
// with a background job, a process in a new session that double-forked
// away from it, and one that ignores SIGHUP; it returns their PIDs.
func startTree(t *testing.T) []int {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `
sleep 300 & echo $!
setsid sh -c 'sleep 300 & echo $!' </dev/null
sh -c 'trap "" HUP; exec sleep 300' & echo $!
echo $$
exec sleep 300`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var pids []int
	sc := bufio.NewScanner(out)
	for len(pids) < 4 && sc.Scan() {
		pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			t.Fatalf("tree: %q", sc.Text())
		}
		pids = append(pids, pid)
	}
	if len(pids) != 4 {
		t.Fatalf("tree started %v", pids)
	}
	return pids
}

func alive(pid int) bool {
	p, ok := read(pid)
	return ok && !p.zombie
}

func TestKillEndsEveryDescendant(t *testing.T) {
	pids := startTree(t)
	// The setsid'd sleep's parent exits at once: it becomes ours.
	time.Sleep(100 * time.Millisecond)
	found, err := Descendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if !slices.Contains(found, p) {
			t.Errorf("pid %d is not found below us: %v", p, found)
		}
	}
	// SIGHUP reaches all, but one ignores it.
	if n, err := Signal(os.Getpid(), unix.SIGHUP); err != nil || n < len(pids) {
		t.Errorf("Signal(SIGHUP) = %d, %v; want >= %d", n, err, len(pids))
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(pids[2]) {
		t.Errorf("pid %d ignores SIGHUP but is gone", pids[2])
	}
	n, err := Kill(os.Getpid(), 2*time.Second)
	if err != nil || n == 0 {
		t.Errorf("Kill = %d, %v", n, err)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d survived Kill", p)
		}
	}
	// Reap what we adopted.
	for {
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 {
			break
		}
	}
	if left, _ := Descendants(os.Getpid()); len(left) != 0 {
		t.Errorf("left below us: %v", left)
	}
}

// A PID that is no longer the process the scan saw, or no longer below the
// root, is never signalled.
func TestIsDescendant(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	p, ok := read(cmd.Process.Pid)
	if !ok {
		t.Fatal("no /proc entry")
	}
	if !isDescendant(p.pid, p.start, os.Getpid()) {
		t.Error("our child is not our descendant")
	}
	if isDescendant(p.pid, p.start+"1", os.Getpid()) {
		t.Error("a reused PID (other start time) counts as our descendant")
	}
	if isDescendant(p.pid, p.start, os.Getppid()+100000) {
		t.Error("our child counts as the descendant of another process")
	}
	if isDescendant(os.Getpid(), "", cmd.Process.Pid) {
		t.Error("we count as our child's descendant")
	}
}
