package retention

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// Recording is what purge knows about one recording file: what its
// record would say of it, and which file it is.
type Recording struct {
	store.PurgedFile
	ino fileID
}

// Ended is when the recording counts as ended for its age: the later of
// its last packet and the file's mtime. Deleting is irreversible, so both
// clocks must agree it is old: the time fields travel with the file (a
// copy or restore resets the mtime), the mtime catches a recording made
// while the host's clock was far behind.
func (r *Recording) Ended() time.Time {
	if r.End.After(r.Modified) {
		return r.End
	}
	return r.Modified
}

type fileID struct{ dev, ino uint64 }

// head describes the recording in f from its first message, without
// reading further.
func head(f *os.File) (*Recording, error) {
	h, err := store.Head(f)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return &Recording{PurgedFile: store.PurgedFile{File: f.Name(), Rec: h.Rec, User: h.User, Host: h.Host, Start: h.Start,
		Modified: fi.ModTime().UTC(), Size: h.Size}, ino: fileID{uint64(st.Dev), st.Ino}}, nil
}

// readAll reads the whole recording once: its SHA-256 and size, its
// integrity state, the chain hash and end time of its last message. A
// file holding several recordings is an error: purge takes one file for
// one recording.
func (r *Recording) readAll(f *os.File, trusted keys.Set) error {
	sum := sha256.New()
	n := &counter{}
	ss, err := store.Summarize(f, f.Name(), r.Size, trusted, io.MultiWriter(sum, n))
	if err != nil {
		return err
	}
	if len(ss) != 1 {
		return fmt.Errorf("holds %d recordings, not one", len(ss))
	}
	r.Size, r.SHA256, r.State = n.n, hex.EncodeToString(sum.Sum(nil)), ss[0].State
	r.End, r.LastHash = ss[0].End, ss[0].LastHash
	return nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// openFiles returns the files any process has open. A recording still
// being written must not be deleted, however old its last message: the
// session may just be idle, and its later messages would go to a deleted
// file. Purge calls it with no recording of its own open. Processes that
// vanish or cannot be inspected are passed over, so purge must run as root
// to see every recorder.
func openFiles() (map[fileID]bool, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	open := map[fileID]bool{}
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			// Only paths: sockets, pipes and anon inodes read "type:[n]".
			if target, err := os.Readlink(dir + fd.Name()); err != nil || target == "" || target[0] != '/' {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(dir+fd.Name(), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				open[fileID{uint64(st.Dev), st.Ino}] = true
			}
		}
	}
	return open, nil
}
