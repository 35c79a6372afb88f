// Package sessionkill signals every process of a recorded session (D-Bus
// SignalSession). The recorder is a child subreaper (PR_SET_CHILD_SUBREAPER),
// so whatever the session starts stays among its descendants, even a daemon
// that double-forks and setsid()s away from the terminal; once the recorder
// has given up the user's identity it can no longer signal them itself.
package sessionkill

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/procstat"
)

// proc is one process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid int
	start     string // starttime: tells a reused PID apart
	zombie    bool
}

// Descendants returns the live (not zombie) descendants of root, read from
// /proc.
func Descendants(root int) ([]int, error) {
	procs, err := scan()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, p := range descendants(procs, root) {
		pids = append(pids, p.pid)
	}
	return pids, nil
}

func scan() (map[int]proc, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	procs := make(map[int]proc, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if p, ok := read(pid); ok {
			procs[pid] = p
		}
	}
	return procs, nil
}

// read returns pid's parent, start time and state; false if it is gone.
func read(pid int) (proc, bool) {
	f, err := procstat.Read(pid)
	// proc(5): field 3 state, 4 ppid, 22 starttime.
	if err != nil || len(f) < 22-2 {
		return proc{}, false
	}
	ppid, err := strconv.Atoi(f[4-3])
	if err != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, start: f[22-3], zombie: f[0] == "Z" || f[0] == "X"}, true
}

// descendants walks the parent links down from root.
func descendants(procs map[int]proc, root int) []proc {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if c == root {
				continue
			}
			if !procs[c].zombie {
				out = append(out, procs[c])
			}
			queue = append(queue, c)
		}
	}
	return out
}

// isDescendant checks, after pidfd_open, that pid is still the process the
// scan saw (same start time) and still below root: the pidfd then pins that
// very process, and a PID reused by an unrelated process is never signalled.
func isDescendant(pid int, start string, root int) bool {
	for hops := 0; hops < 4096; hops++ {
		p, ok := read(pid)
		if !ok {
			return false
		}
		if start != "" && p.start != start {
			return false
		}
		if p.ppid == root {
			return true
		}
		if p.ppid <= 1 {
			return false
		}
		pid, start = p.ppid, ""
	}
	return false
}

// Signal sends sig to every live descendant of root once and returns how
// many it reached.
func Signal(root int, sig unix.Signal) (int, error) {
	procs, err := scan()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, p := range descendants(procs, root) {
		pidfd, err := unix.PidfdOpen(p.pid, 0)
		if err != nil {
			continue // gone meanwhile
		}
		if isDescendant(p.pid, p.start, root) {
			if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err == nil {
				n++
			} else if !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("signal %d: %w", p.pid, err))
			}
		}
		unix.Close(pidfd)
	}
	return n, errors.Join(errs...)
}

// Kill sends SIGKILL to the descendants of root until none is left alive,
// for at most within: processes forked meanwhile are orphaned when their
// parent dies, land below root (the subreaper) and are found on the next
// round. It returns how many processes it killed.
func Kill(root int, within time.Duration) (int, error) {
	total := 0
	deadline := time.Now().Add(within)
	for {
		n, err := Signal(root, unix.SIGKILL)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		if time.Now().After(deadline) {
			left, _ := Descendants(root)
			return total, fmt.Errorf("%d processes still alive after %v", len(left), within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
