package commands

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// ErrEnded means the log already has its end entry: nothing more may be
// appended.
var ErrEnded = errors.New("command log already ended")

// Writer appends entries to one recording's command log.
type Writer struct {
	f     *os.File
	path  string
	rec   string
	key   ed25519.PrivateKey
	seq   uint64
	prev  string
	execs uint64
	last  time.Time // the last entry's time
	line  []byte
}

// Create starts the command log of start.Rec in recDir with start (Kind
// start; V, Seq and Prev are set here). The log's directory is created
// 0750 with the group of recDir, the file 0640 likewise; an existing log is
// never replaced.
func Create(recDir string, start Entry, key ed25519.PrivateKey) (*Writer, error) {
	path, err := Path(recDir, start.Rec)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureSubdir(Dir(recDir)); err != nil {
		return nil, fmt.Errorf("command logs: %w", err)
	}
	fi, err := os.Stat(Dir(recDir))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|syscall.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("command log: %w", err)
	}
	// The mode is narrowed by the umask and the group is ours: both must be
	// exact for the shipper (group vigil) to read the log.
	if err := errors.Join(f.Chmod(0o640), f.Chown(-1, int(fi.Sys().(*syscall.Stat_t).Gid))); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("command log %s: %w", path, err)
	}
	if err := atomicfile.SyncDir(Dir(recDir)); err != nil {
		f.Close()
		return nil, err
	}
	w := &Writer{f: f, path: path, rec: start.Rec, key: key}
	start.Kind = KindStart
	if err := w.Append(start); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Resume opens the existing command log of rec in recDir to append to it.
// A last line cut off mid-way (the writer stopped while writing it) is
// removed, and cut says how many bytes it had, for the caller to record
// as lost; a log whose lines do not verify (Verify, any key) is refused
// rather than extended.
func Resume(recDir, rec string, key ed25519.PrivateKey) (w *Writer, cut int, err error) {
	path, err := Path(recDir, rec)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("command log: %w", err)
	}
	fail := func(err error) (*Writer, int, error) {
		f.Close()
		return nil, 0, fmt.Errorf("command log %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fail(err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		cut = len(data) - (i + 1)
		data = data[:i+1]
		if err := f.Truncate(int64(len(data))); err != nil {
			return fail(err)
		}
	}
	// Checked with our own key: a log signed with an earlier key is
	// UNKNOWN_KEY here and may be continued; a broken chain may not.
	own := keys.Set{}
	if key != nil {
		pub := key.Public().(ed25519.PublicKey)
		own[keys.ID(pub)] = pub
	}
	entries, rep, c := VerifyFrom(Chain{}, data, rec, own)
	if rep.State >= verify.Missing || len(entries) == 0 {
		return fail(fmt.Errorf("does not verify (%s at line %d: %s): not extended", rep.State, rep.Line, rep.Detail))
	}
	if c.Ended {
		f.Close()
		return nil, 0, ErrEnded
	}
	w = &Writer{f: f, path: path, rec: rec, key: key, seq: c.Seq, prev: c.Prev, execs: uint64(c.Execs), last: entries[len(entries)-1].Time}
	return w, cut, nil
}

// Last is the time of the last entry written.
func (w *Writer) Last() time.Time { return w.last }

// Path is the log's file.
func (w *Writer) Path() string { return w.path }

// Append writes e as the next entry (V, Rec, Seq and Prev are set here).
// A failed write leaves the log as it was before it, so that the next
// entry still chains to the last one written.
func (w *Writer) Append(e Entry) error {
	e.V, e.Rec, e.Seq, e.Prev = Version, w.rec, w.seq+1, w.prev
	e.Time = e.Time.UTC()
	if !e.Start.IsZero() {
		e.Start = e.Start.UTC()
	}
	body, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	if w.key != nil {
		w.line = store.Sign(Domain, body, w.key)
	} else {
		w.line = store.Signed{Body: body}.Encode()
	}
	if _, err := w.f.Write(w.line); err != nil {
		// O_APPEND: the partial line is at the end; cut it off.
		if fi, serr := w.f.Stat(); serr == nil {
			_ = w.f.Truncate(fi.Size() - int64(len(w.line)))
		}
		return fmt.Errorf("command log %s: %w", w.path, err)
	}
	w.seq, w.prev, w.last = e.Seq, store.SHA256Hex(w.line), e.Time
	if e.Kind == KindExec {
		w.execs++
	}
	return nil
}

// End appends the end entry, with the number of commands, makes the log
// durable and closes it.
func (w *Writer) End(t time.Time) error {
	n := w.execs
	err := w.Append(Entry{Kind: KindEnd, Time: t, Count: &n})
	return errors.Join(err, w.f.Sync(), w.f.Close())
}

// Sync makes what was written durable.
func (w *Writer) Sync() error { return w.f.Sync() }

// Close closes the log without ending it (the daemon stops while the
// recording goes on: Resume continues it).
func (w *Writer) Close() error { return errors.Join(w.f.Sync(), w.f.Close()) }
