// Package atomicfile writes files so that a reader, or a crash, finds the
// old file or the whole new one, never a part: the content goes to a
// temporary file beside the target, which is synced, then renamed (or
// linked) into place, and the directory is synced so that the rename
// survives a crash too. Every file Vigil replaces goes through it: one
// fsync policy for the snapshot, caches, keys and system files.
package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Owner is the owner a new file is given; -1 leaves an ID as created.
type Owner struct{ UID, GID int }

// Options say how the new file is made.
type Options struct {
	Mode  fs.FileMode // permission bits (not subject to the umask)
	Owner *Owner      // nil: the writer's
	// NoReplace fails with fs.ErrExist instead of replacing an existing
	// file (a hard link instead of a rename).
	NoReplace bool
}

// Write makes path hold what write writes, per o. On error path is as it
// was and no temporary file is left.
func Write(path string, o Options, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a rename it is gone already; after a link it is the spare name
	err = f.Chmod(o.Mode)
	if err == nil && o.Owner != nil {
		err = f.Chown(o.Owner.UID, o.Owner.GID)
	}
	if err == nil {
		err = write(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if o.NoReplace {
		err = os.Link(tmp, path)
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	return SyncDir(dir)
}

// WriteData is Write with the content at hand.
func WriteData(path string, o Options, data []byte) error {
	return Write(path, o, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir makes the creations, renames and removals in dir durable.
func SyncDir(dir string) error {
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
