// Package sink stores recording messages: in files (one per recording, or
// appended to one file as tlog does), in the systemd journal, or in syslog.
// Every sink implements msg.Sink.
package sink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/store"
)

// FileMode is the mode of recording files, set with fchmod after creation
// so that the umask neither widens nor narrows it.
const FileMode = 0o640

// maxSuffix bounds the numeric suffixes tried when a recording file name is
// taken; running out means something is creating names in a loop.
const maxSuffix = 1000

// BatchSize is how many bytes of whole lines the file sink gathers before
// it writes them with one write(2). A flooding terminal produces a message
// every 2 KiB; a system call for each, through the file system, costs more
// than encoding and hashing it. Messages the recorder flushes for latency
// (Checkpoint) and the final one are written at once, and the recorder calls
// Flush when nothing else would, so gathering never delays a line by more
// than the recording's latency. It is also how far what the user saw may be
// ahead of the file when the disk fills up (the bytes are kept and retried),
// so it stays small.
const BatchSize = 16 << 10

// Reserve is how much space the file sink keeps allocated beyond the end of
// a recording of its own (fallocate(2) with FALLOC_FL_KEEP_SIZE, renewed
// after every write): what was shown to the user but not yet written (at
// most a batch and a message or two) and the signed end always fit, so a
// full disk never leaves output the user saw out of the file. Released on
// Close. Appending to a shared file (tlog's layout) keeps no reserve.
const Reserve = 64 << 10

// reserveAhead is how much more than Reserve is allocated at once, so that
// the reserve is renewed once every reserveAhead bytes written rather than
// after every batch (fallocate costs ~25 µs on ext4).
const reserveAhead = 192 << 10

// File is the file sink. It is safe for concurrent use.
type File struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	created bool   // we created the file: its directory entry must be synced
	pending []byte // accepted bytes not yet written, see WriteMessage
	// failed is set while a write of pending has failed. The message whose
	// write failed may be sent again (a retry): its bytes are already in
	// pending and must not be queued twice.
	failed    bool
	failedRec string
	failedID  uint64
	closed    bool
	// own: only this sink writes the file (one file per recording), whose
	// length is size; reserve: Reserve is kept beyond it; low: renewing it
	// failed for lack of space.
	own        bool
	reserve    bool
	size       int64
	reservedTo int64 // allocated up to here
	low        atomic.Bool
}

// OpenFile opens the file sink. If path is an existing directory or ends in
// "/", a new file named meta.Name(0) is created in it with O_EXCL (an
// existing file is never reused: a taken name gets a numeric suffix,
// "<name>.1.jsonl", "<name>.2.jsonl", ...). Otherwise messages are appended
// to path as tlog does, creating it if needed. New files get mode 0640.
// Files are opened O_APPEND and (as os.OpenFile always does) O_CLOEXEC.
func OpenFile(path string, meta store.Meta) (*File, error) {
	if path == "" {
		return nil, errors.New("file sink: empty path")
	}
	dirMode := strings.HasSuffix(path, "/")
	if !dirMode {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			dirMode = true
		}
	}
	if dirMode {
		return createInDir(path, meta)
	}
	return openAppend(path)
}

func createInDir(dir string, meta store.Meta) (*File, error) {
	for n := 0; n <= maxSuffix; n++ {
		p := filepath.Join(dir, meta.Name(n))
		// O_NOFOLLOW: a symlink planted under the name must not redirect
		// the recording.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|unix.O_NOFOLLOW, FileMode)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("file sink: create recording file: %w", err)
		}
		s, err := newCreated(f)
		if err != nil {
			return nil, err
		}
		return s.withReserve()
	}
	return nil, fmt.Errorf("file sink: no free recording file name for %s after %d suffixes", filepath.Join(dir, meta.Name(0)), maxSuffix)
}

// openAppend opens path for appending. It first tries to create it
// exclusively so that it knows whether to fix the mode and sync the
// directory; a file that appears or vanishes in between is retried.
func openAppend(path string) (*File, error) {
	for range 3 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, FileMode)
		if err == nil {
			return newCreated(f)
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("file sink: open %s: %w", path, err)
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			return &File{f: f, path: path}, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("file sink: open %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("file sink: open %s: file keeps being created and removed", path)
}

func newCreated(f *os.File) (*File, error) {
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink: chmod %s: %w", f.Name(), err)
	}
	return &File{f: f, path: f.Name(), created: true}, nil
}

// withReserve keeps Reserve allocated beyond the end of a recording file of
// our own. With no room for it the recording does not start: the session
// would run with nothing to hold what the user sees when the disk fills.
// File systems without fallocate keep no reserve.
func (s *File) withReserve() (*File, error) {
	s.own, s.reserve = true, true
	err := s.renew()
	switch {
	case errors.Is(err, unix.EOPNOTSUPP):
		s.reserve = false
	case err != nil:
		s.f.Close()
		os.Remove(s.path)
		return nil, fmt.Errorf("file sink: %s: %w", s.path, err)
	}
	return s, nil
}

// renew makes sure Reserve bytes are allocated beyond the end of the file,
// allocating reserveAhead more when there is room for it.
func (s *File) renew() error {
	if s.reservedTo-s.size >= Reserve {
		return nil
	}
	fd := int(s.f.Fd())
	err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, s.size, Reserve+reserveAhead)
	if err == nil {
		s.reservedTo = s.size + Reserve + reserveAhead
		return nil
	}
	if err = unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, s.size, Reserve); err == nil {
		s.reservedTo = s.size + Reserve
		return nil
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("%w: keeping %d KiB in reserve: %w", msg.ErrNoSpace, Reserve>>10, err)
	}
	return err
}

// Low reports that the disk filled up: what the sink was given is in the
// file, but only the reserve's rest is left (msg.Reserver).
func (s *File) Low() bool { return s.low.Load() }

// Reserve renews the reserve once the disk has room again (msg.Reserver).
func (s *File) Reserve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reserve || s.closed {
		return nil
	}
	if err := s.renew(); err != nil {
		return fmt.Errorf("file sink %s: %w", s.path, err)
	}
	s.low.Store(false)
	return nil
}

// Path returns the path of the file being written.
func (s *File) Path() string { return s.path }

// WriteMessage appends m.Line. The sink takes the bytes over: when it
// returns, they are either in the file or kept by the sink, which writes them
// once BatchSize bytes have gathered, with a Checkpoint or Final message, or
// on Flush or Close. An error (ENOSPC, EIO, ...) therefore means "not all
// accepted bytes are in the file yet". Sending the failed message again
// (msg.Sink's retry contract) only writes what is still missing, so once the
// cause is gone the file has every message exactly once and no half line.
func (s *File) WriteMessage(m *msg.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("file sink %s: write after close", s.path)
	}
	if !s.failed || m.Rec != s.failedRec || m.ID != s.failedID {
		s.pending = append(s.pending, m.Line...)
	}
	if !s.failed && !m.Final && !m.Checkpoint && len(s.pending) < BatchSize {
		return nil
	}
	s.failedRec, s.failedID = m.Rec, m.ID
	if err := s.flushPending(); err != nil {
		return fmt.Errorf("file sink %s: message %d: %w", s.path, m.ID, err)
	}
	if !m.Final {
		s.renewAfterWrite()
	}
	return nil
}

// renewAfterWrite renews the reserve after a write. Lack of space is not
// the write's failure (it is in the file) but Low's: the recorder holds
// the session until Reserve succeeds or it ends the session, whose end
// fits in what is left of the reserve.
func (s *File) renewAfterWrite() {
	if s.reserve && s.renew() != nil {
		s.low.Store(true)
	}
}

// Flush writes the lines the sink holds.
func (s *File) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.pending) == 0 {
		return nil
	}
	// A retry after a failed Flush is a Flush, not a message.
	s.failedRec, s.failedID = "", 0
	if err := s.flushPending(); err != nil {
		return fmt.Errorf("file sink %s: %w", s.path, err)
	}
	s.renewAfterWrite()
	return nil
}

// Buffered reports whether the sink holds lines not yet written.
func (s *File) Buffered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}

func (s *File) flushPending() error {
	n, err := writeFull(s.f, s.pending)
	if err != nil && n > 0 && s.own {
		// Never a torn line: a file of our own is cut back to its last
		// whole line, and the bytes are kept for the retry.
		if terr := s.f.Truncate(s.size); terr == nil {
			n = 0
		}
	}
	s.size += int64(n)
	// Shift rather than reslice so the buffer does not keep growing at the
	// front while the disk stays full.
	s.pending = s.pending[:copy(s.pending, s.pending[n:])]
	s.failed = err != nil
	if err != nil {
		return fmt.Errorf("wrote %d bytes, %d kept for retry: %w", n, len(s.pending), err)
	}
	return nil
}

// writeFull writes all of b, retrying short writes, and returns how much
// was written.
func writeFull(f *os.File, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := f.Write(b[done:])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Close writes what is still pending, fsyncs the file and, if the sink
// created it, its directory, then closes the file. If pending bytes cannot
// be written, Close reports it and the file is closed anyway.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if len(s.pending) > 0 {
		if err := s.flushPending(); err != nil {
			errs = append(errs, fmt.Errorf("file sink %s: %w", s.path, err))
		}
	}
	if s.reserve {
		// Truncating to its own length frees what is allocated beyond it.
		if err := s.f.Truncate(s.size); err != nil {
			errs = append(errs, fmt.Errorf("file sink %s: release the reserve: %w", s.path, err))
		}
	}
	if err := s.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("file sink %s: fsync: %w", s.path, err))
	}
	if err := s.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("file sink %s: close: %w", s.path, err))
	}
	if s.created {
		if err := atomicfile.SyncDir(filepath.Dir(s.path)); err != nil {
			errs = append(errs, fmt.Errorf("file sink %s: %w", s.path, err))
		}
	}
	return errors.Join(errs...)
}
