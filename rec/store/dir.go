package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// Lock takes the exclusive lock that purge, hold and release hold on the
// recordings directory, so that a hold placed while purge runs is either
// seen by it or placed after it. It blocks until the lock is free.
func Lock(recDir string) (unlock func(), err error) {
	d, err := os.Open(recDir)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", recDir, err)
	}
	return func() { d.Close() }, nil // closing releases the flock
}

// EnsureSubdir creates dir (mode 0750) if it is missing, with the group of its
// parent, the recordings directory: whoever may read the recordings may
// read their holds and purge records, and nobody else learns who is under
// a hold.
func EnsureSubdir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent, err := os.Stat(filepath.Dir(dir))
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		return err
	}
	// Mkdir's mode is narrowed by the umask; this one must be exact.
	if err := os.Chmod(dir, 0o750); err != nil {
		return err
	}
	if err := os.Chown(dir, -1, int(parent.Sys().(*syscall.Stat_t).Gid)); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

// CreateFile writes data to dir/name (mode 0640, the directory's group)
// all at once and durably, never replacing an existing file: the content
// goes to a temporary file that is then hard-linked under its name.
func CreateFile(dir, name string, data []byte) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	o := atomicfile.Options{Mode: 0o640, Owner: &atomicfile.Owner{UID: -1, GID: int(fi.Sys().(*syscall.Stat_t).Gid)}, NoReplace: true}
	if err := atomicfile.WriteData(filepath.Join(dir, name), o, data); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
