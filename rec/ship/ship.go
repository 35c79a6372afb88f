// Package ship sends a host's recording files to the collector as they are
// written (vigil-ship): the complete lines of every recording file in the
// recording directory, appended to the collector's copy through
// fleetapi.PathAppend; and the host's retention, its purge records and
// holds (retention.go).
//
// The files themselves are the spool: the shipper keeps nothing but the
// collector's acknowledged offset of each file, which it asks the
// collector for when it starts and after any error, so that a restart of
// either side neither loses nor duplicates a byte.
//
// The directory is polled (Options.Poll, 250 ms by default) rather than
// watched with inotify: a poll is one readdir and one lstat per file,
// cheap for the hundreds of files a host keeps, and it cannot miss a
// change (inotify loses events on queue overflow, and needs a rescan
// after every restart anyway).
package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/store"
)

// Options configure a Shipper.
type Options struct {
	Dir       string       // the recording directory
	Collector string       // the collector's base URL, https://HOST:PORT
	Client    *http.Client // Client's
	Log       *slog.Logger // nil: no logging

	// Zero values take the defaults.
	Poll       time.Duration // between looks at the files: 250 ms
	MaxBackoff time.Duration // longest wait before retrying an unreachable collector: 5 s
	Timeout    time.Duration // of one request: 1 min
}

// chunk is the usual size of one append: big enough to catch up at full
// speed, small enough to keep the shipper's memory low. A line longer
// than chunk is sent alone, up to fleetapi.MaxAppend.
const chunk = 1 << 20

// refusedRetry is when a file the collector refused (4xx) is tried again
// by Run: the host may be enrolled or the key added meanwhile.
const refusedRetry = time.Minute

// Shipper ships the recording files of one directory. Run or Once, not
// both at the same time.
type Shipper struct {
	opt       Options
	files     map[string]*file
	retention retention
}

// file is what the shipper knows of one recording file.
type file struct {
	acked   int64     // bytes the collector holds
	known   bool      // acked is the collector's word, not to be asked again
	retryAt time.Time // refused: not before then (Run only)
}

// New returns a Shipper with opt.
func New(opt Options) *Shipper {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Poll <= 0 {
		opt.Poll = 250 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Minute
	}
	opt.Collector = strings.TrimSuffix(opt.Collector, "/")
	return &Shipper{opt: opt, files: map[string]*file{}}
}

// Run ships the files until ctx is done, then returns ctx's error. Lines
// reach the collector within about Poll of reaching a file. While the
// collector is unreachable (or failing) it retries with a backoff of up to
// MaxBackoff; a file the collector refuses is retried a minute later,
// the others go on.
func (s *Shipper) Run(ctx context.Context) error {
	var backoff time.Duration
	for {
		_, err := s.pass(ctx, false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := s.opt.Poll
		if err != nil {
			backoff = min(max(2*backoff, s.opt.Poll), s.opt.MaxBackoff)
			wait = backoff
			s.opt.Log.Warn("collector unavailable, retrying", "err", err, "in", backoff)
			s.forget()
		} else {
			backoff = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Once ships the complete lines the files hold and returns when the
// collector has acknowledged all of them; while the collector is
// unreachable it retries as Run does, until ctx is done. The error names
// the files the collector refused.
func (s *Shipper) Once(ctx context.Context) error {
	var backoff time.Duration
	for {
		refused, err := s.pass(ctx, true)
		if err == nil {
			return errors.Join(refused...)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ship %s: %w (last error: %w)", s.opt.Dir, ctx.Err(), err)
		}
		backoff = min(max(2*backoff, s.opt.Poll), s.opt.MaxBackoff)
		s.opt.Log.Warn("collector unavailable, retrying", "err", err, "in", backoff)
		s.forget()
		select {
		case <-ctx.Done():
			return fmt.Errorf("ship %s: %w (last error: %w)", s.opt.Dir, ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
}

// forget makes the next pass ask the collector for every file's offset:
// after an error, what it holds is not known (it may have stored a body
// whose Ack was lost, or lost its database).
func (s *Shipper) forget() {
	for _, f := range s.files {
		f.known = false
	}
	s.retention.forget()
}

// fileError is a file's own trouble (unreadable, refused by the collector):
// it stops that file, not the others.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// kind is a kind of file the shipper follows: where, and to which
// endpoint its lines go.
type kind struct {
	dir      string
	endpoint string
	valid    func(name string) bool
	prefix   string // of its keys in Shipper.files
}

// kinds are the recordings and their command logs (rec/spec/commands.md).
func (s *Shipper) kinds() []kind {
	return []kind{
		{s.opt.Dir, fleetapi.PathAppend, store.IsRecordingName, ""},
		{commands.Dir(s.opt.Dir), fleetapi.PathCommands, commands.IsLogName, commands.DirName + "/"},
	}
}

// pass looks at every recording file and command log once and sends what
// the collector lacks of it. It returns the files' own errors (refused),
// and the first error of the collector or the directory, which ends the
// pass. once retries refused files at once.
func (s *Shipper) pass(ctx context.Context, once bool) (refused []error, err error) {
	seen := map[string]bool{}
	now := time.Now()
	for i, k := range s.kinds() {
		entries, err := os.ReadDir(k.dir)
		if i > 0 && errors.Is(err, fs.ErrNotExist) {
			continue // no command log yet
		}
		if err != nil {
			return refused, fmt.Errorf("recording directory: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			// Only regular files: a symlink or a device named like a
			// recording is not one the recorder wrote.
			if !k.valid(name) || !e.Type().IsRegular() {
				continue
			}
			seen[k.prefix+name] = true
			f := s.files[k.prefix+name]
			if f == nil {
				f = &file{}
				s.files[k.prefix+name] = f
			}
			if !once && now.Before(f.retryAt) {
				continue
			}
			err := s.shipFile(ctx, k, name, f)
			var fe *fileError
			switch {
			case err == nil:
				f.retryAt = time.Time{}
			case errors.As(err, &fe) && ctx.Err() == nil:
				if f.retryAt.IsZero() || once {
					s.opt.Log.Error("file not shipped", "file", k.prefix+name, "err", err)
				}
				f.retryAt, f.known = now.Add(refusedRetry), false
				refused = append(refused, err)
			default:
				return refused, err
			}
		}
	}
	// Removed files (retention) are forgotten.
	for name := range s.files {
		if !seen[name] {
			delete(s.files, name)
		}
	}
	// After the recordings: a hold or purge record names recordings the
	// collector then has.
	more, err := s.shipRetention(ctx, once, now)
	return append(refused, more...), err
}

// shipFile sends the complete lines of the file name of kind k past what
// the collector holds.
func (s *Shipper) shipFile(ctx context.Context, k kind, name string, f *file) error {
	path := filepath.Join(k.dir, name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed since the directory was read
	}
	if err != nil {
		return &fileError{err}
	}
	if f.known && fi.Size() <= f.acked {
		return nil // nothing new: the usual case, without opening it
	}
	// O_NOFOLLOW: the name may have become a symlink since it was read;
	// O_NONBLOCK: nor may opening a FIFO put there hang the shipper.
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
		return nil
	}
	if err != nil {
		return &fileError{err}
	}
	defer fd.Close()
	if fi, err = fd.Stat(); err != nil {
		return &fileError{err}
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	if !f.known {
		acked, _, err := s.append(ctx, k.endpoint, name, 0, nil)
		if err != nil {
			return err
		}
		f.acked, f.known = acked, true
	}
	size := fi.Size()
	for f.acked < size {
		data, err := completeLines(fd, f.acked, size)
		if err != nil {
			return &fileError{fmt.Errorf("%s: %w", path, err)}
		}
		if len(data) == 0 {
			return nil // a partial line: sent once it is complete
		}
		off := f.acked
		acked, conflict, err := s.append(ctx, k.endpoint, name, off, data)
		if err != nil {
			f.known = false
			return err
		}
		switch {
		case conflict && acked == off:
			f.known = false
			return &fileError{fmt.Errorf("%s: the collector refuses offset %d, which it acknowledged", name, off)}
		case conflict:
			s.opt.Log.Info("collector holds another length, resuming there", "file", name, "offset", off, "acked", acked)
		case acked <= off:
			f.known = false
			return &fileError{fmt.Errorf("%s: the collector stored %d bytes at %d and acknowledged %d", name, len(data), off, acked)}
		}
		f.acked = acked
	}
	if f.acked > size {
		// The file shrank (or is another file by the same name): the
		// collector's copy is kept, nothing is sent.
		s.opt.Log.Warn("the collector holds more than the file", "file", name, "size", size, "acked", f.acked)
	}
	return nil
}

// completeLines reads r from off up to size and returns the bytes up to
// the last '\n': at most chunk bytes, unless one line is longer, then that
// line, at most fleetapi.MaxAppend bytes.
func completeLines(r io.ReaderAt, off, size int64) ([]byte, error) {
	n := min(size-off, chunk)
	for {
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, off); err != nil {
			return nil, fmt.Errorf("read at %d: %w", off, err)
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return buf[:i+1], nil
		}
		switch {
		case n == size-off:
			return nil, nil
		case n == fleetapi.MaxAppend:
			return nil, fmt.Errorf("line at %d longer than %d bytes", off, fleetapi.MaxAppend)
		}
		n = min(size-off, fleetapi.MaxAppend)
	}
}

// append sends data (whole lines, or nothing to ask) at offset off of file
// name to endpoint and returns the collector's Ack, and whether it was a
// 409: the collector holds another length than off. A refusal is a
// *fileError.
func (s *Shipper) append(ctx context.Context, endpoint, name string, off int64, data []byte) (int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	u := s.opt.Collector + endpoint + "?" + url.Values{
		"file": {name}, "offset": {strconv.FormatInt(off, 10)},
	}.Encode()
	var ack fleetapi.Ack
	code, err := post(ctx, s.opt.Client, u, "application/octet-stream", data, &ack, http.StatusOK, http.StatusConflict)
	switch {
	case err != nil:
		return 0, false, refusal(err, fmt.Sprintf("append to %s at %d", name, off))
	case ack.Acked < 0:
		return 0, false, fmt.Errorf("append to %s at %d: the collector acknowledged %d bytes", name, off, ack.Acked)
	}
	return ack.Acked, code == http.StatusConflict, nil
}
