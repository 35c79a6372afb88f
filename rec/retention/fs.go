package retention

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
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

// ensureDir creates dir (mode 0750) if it is missing, with the group of its
// parent, the recordings directory: whoever may read the recordings may
// read their holds and purge records, and nobody else learns who is under
// a hold.
func ensureDir(dir string) error {
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
	return syncDir(filepath.Dir(dir))
}

// createFile writes data to dir/name (mode 0640, the directory's group)
// all at once and durably, never replacing an existing file: the content
// goes to a temporary file that is then hard-linked under its name.
func createFile(dir, name string, data []byte) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o640)
	if err == nil {
		err = tmp.Chown(-1, int(fi.Sys().(*syscall.Stat_t).Gid))
	}
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes creations and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
