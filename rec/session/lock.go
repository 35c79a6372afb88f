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
)

// UnsetSession is the kernel's audit session ID for processes that never
// went through pam_loginuid.
const UnsetSession = 4294967295

// ErrLocked means another live recorder already records this audit
// session; its recording covers ours (nested su, sudo -i, tmux panes).
var ErrLocked = errors.New("audit session is already recorded")

// Lock is held for the life of a recording of one audit session.
type Lock struct{ path string }

// Acquire takes dir/session.<id>.lock. Unlike tlog it stores the owner's PID
// and start time, so a lock left behind by a killed recorder is taken over
// instead of silently leaving the session unrecorded. Sessions without an
// audit ID are never locked: they have nothing in common but the unset ID.
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
		if ownerAlive(path) {
			return nil, ErrLocked
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

func ownerAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		// Unreadable or vanished: treat as alive only if it still exists, so
		// a lock we cannot judge is never broken.
		return !errors.Is(err, fs.ErrNotExist)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return false
	}
	pid, err1 := strconv.Atoi(f[0])
	st, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return false
	}
	return startTime(pid) == st
}

// startTime is field 22 of /proc/PID/stat (clock ticks since boot), which
// tells a live owner from a reused PID. 0 when the process is gone.
func startTime(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may contain spaces and parentheses: skip past the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// Fields after ')' start at field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}
