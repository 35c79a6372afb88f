package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigil-rec/vigil/rec/procstat"
)

// UnsetSession is the kernel's audit session ID for processes that never
// went through pam_loginuid.
const UnsetSession = 4294967295

// ErrLocked means a live recorder of this audit session is one of our
// ancestors: its recording covers ours (su, sudo -i, ssh inside a recorded
// session).
var ErrLocked = errors.New("audit session is already recorded")

// Lock is held for the life of a recording of one audit session.
type Lock struct{ path string }

// Acquire takes dir/session.<id>.lock. Unlike tlog it stores the owner's PID
// and start time, so a lock left behind by a killed recorder is taken over
// instead of silently leaving the session unrecorded. Sessions without an
// audit ID are never locked: they have nothing in common but the unset ID.
//
// A live owner means ErrLocked only if it is our ancestor: sessions that
// share the audit session without running under its recorder's terminal
// (a second channel of a multiplexed ssh connection, a tmux server started
// earlier) are recorded on their own, without the lock.
func Acquire(dir string, id uint32) (*Lock, error) {
	if id == UnsetSession {
		return &Lock{}, nil
	}
	path := filepath.Join(dir, fmt.Sprintf("session.%d.lock", id))
	content := []byte(fmt.Sprintf("%d %d\n", os.Getpid(), startTime(os.Getpid())))
	for attempt := 0; attempt < 3; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
		if err == nil {
			_, werr := f.Write(content)
			cerr := f.Close()
			if werr != nil || cerr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("write lock %s: %w", path, errors.Join(werr, cerr))
			}
			return &Lock{path: path}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if pid, alive := owner(path); alive {
			if pid > 0 && isAncestor(pid) {
				return nil, ErrLocked
			}
			return &Lock{}, nil
		}
		// Stale: its recorder is gone. Remove and try again.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale lock %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("lock %s: contended", path)
}

// Release removes the lock.
func (l *Lock) Release() error {
	if l == nil || l.path == "" {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// owner returns the lock's owner and whether it is alive. A lock that
// cannot be read but exists counts as alive with an unknown (0) owner, so
// it is never broken (and, not being an ancestor, never trusted either).
func owner(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, !errors.Is(err, fs.ErrNotExist)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(f[0])
	st, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return 0, false
	}
	return pid, startTime(pid) == st
}

// isAncestor says whether pid is an ancestor of this process.
func isAncestor(pid int) bool {
	for p, hops := os.Getppid(), 0; p > 1 && hops < 4096; hops++ {
		if p == pid {
			return true
		}
		p = parentOf(p)
	}
	return false
}

// parentOf is field 4 of /proc/PID/stat; 0 when unknown.
func parentOf(pid int) int {
	f, _ := procstat.Read(pid)
	if len(f) <= 4-3 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[4-3])
	return ppid
}

// startTime is field 22 of /proc/PID/stat (clock ticks since boot), which
// tells a live owner from a reused PID. 0 when the process is gone.
func startTime(pid int) uint64 {
	f, _ := procstat.Read(pid)
	if len(f) <= 22-3 {
		return 0
	}
	v, _ := strconv.ParseUint(f[22-3], 10, 64)
	return v
}
