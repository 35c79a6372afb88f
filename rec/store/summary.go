package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/tlog"
	"github.com/vigil-rec/vigil/rec/verify"
)

// Summary is what one recording is: who, where, when, how big, and
// whether it is intact. Its JSON is what `vigil-play list --json` prints
// of it.
type Summary struct {
	File string `json:"file"`
	Rec  string `json:"rec"`
	// Start is the wall-clock time of the recording's start; zero when
	// unknown (format 2.2 has no wall-clock time).
	Start    time.Time `json:"-"`
	Duration float64   `json:"duration"` // seconds from the start to the last packet
	User     string    `json:"user"`
	Host     string    `json:"host"`
	Term     string    `json:"term"`
	Size     int64     `json:"size"` // bytes of the recording's messages
	// State and Detail are the integrity state as rec/verify reports it.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	// End is when the last message's last packet happened by that
	// message's own (chained) time field; zero when unknown.
	End time.Time `json:"-"`
	// LastHash is the chain hash stored in the last line, if that is an
	// anchor: purge records name a deleted recording by it.
	LastHash string `json:"-"`
}

// Data is a recording's bytes: a file, or a journal recording read into
// memory.
type Data interface {
	io.ReadSeeker
	io.ReaderAt
}

// Describe summarizes the recordings in the file at path: one, or several
// when they share the file (tlog's single-file layout); none when it holds
// no messages.
func Describe(path string, trusted keys.Set) ([]Summary, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size > smallFile {
		return Summarize(f, path, size, trusted, nil)
	}
	// Most recordings are small: one read, then everything from memory.
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	buf := (*bp)[:size]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return summarize(bytes.NewReader(buf), memSource(buf), path, size, trusted)
}

// Unverified is the State of a summary Peek made: nobody checked the
// recording's integrity.
const Unverified = "UNVERIFIED"

// Peek summarizes the recording in the file at path as Describe would,
// from its first and last message alone, without verifying it: State is
// Unverified and LastHash empty. It reads a few blocks however large the
// file. ok is false when those messages do not show one recording (none
// decodes, or they name two): only Describe can tell what the file holds.
func Peek(path string) (s Summary, ok bool, err error) {
	f, err := openFile(path)
	if err != nil {
		return Summary{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Summary{}, false, err
	}
	src := dataSource(f)
	if fi.Size() <= edgeBlock {
		// Both ends are all of it: one read.
		bp := smallBufs.Get().(*[]byte)
		defer smallBufs.Put(bp)
		buf := (*bp)[:fi.Size()]
		if _, err := io.ReadFull(f, buf); err != nil {
			return Summary{}, false, fmt.Errorf("%s: %w", path, err)
		}
		src = memSource(buf)
	}
	first, err := edgeMessage(src, fi.Size(), true)
	var last *message
	if err == nil && first != nil {
		last, err = edgeMessage(src, fi.Size(), false)
	}
	if err != nil {
		return Summary{}, false, fmt.Errorf("%s: %w", path, err)
	}
	if first == nil || last == nil || last.rec != first.rec {
		return Summary{}, false, nil
	}
	s = Summary{File: path, Size: fi.Size(), State: Unverified, Detail: "not verified yet"}
	s.describe(first, last)
	return s, true, nil
}

// openFile opens path for reading as os.Open does, but without the
// runtime's poller, which a regular file does not need: trying to register
// with it took four more system calls per file, about a sixth of the time
// list --limit takes to peek at ten thousand.
func openFile(path string) (*os.File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), path), nil
		case err != unix.EINTR:
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// smallFile is the size up to which Describe reads a file at once.
const smallFile = 1 << 20

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

// Summarize summarizes the recordings in d, of size bytes, named name.
// Their integrity needs all of d (rec/verify); the rest comes from the
// first and last message, except where several recordings share d, which
// is read again. tee, if not nil, gets every byte of d as it is verified
// (purge hashes the file on the way).
func Summarize(d Data, name string, size int64, trusted keys.Set, tee io.Writer) ([]Summary, error) {
	if _, err := d.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var r io.Reader = d
	if tee != nil {
		r = io.TeeReader(d, tee)
	}
	return summarize(r, dataSource(d), name, size, trusted)
}

// source gives a recording's bytes again after verify has read them: a
// block at an offset, or all from the start.
type source struct {
	block func(off, n int64) ([]byte, error)
	all   func() (io.Reader, error)
}

// memSource is data in memory: blocks are slices of it.
func memSource(b []byte) source {
	return source{
		block: func(off, n int64) ([]byte, error) { return b[off : off+n], nil },
		all:   func() (io.Reader, error) { return bytes.NewReader(b), nil },
	}
}

func dataSource(d Data) source {
	return source{
		block: func(off, n int64) ([]byte, error) {
			b := make([]byte, n)
			if _, err := d.ReadAt(b, off); err != nil && err != io.EOF {
				return nil, err
			}
			return b, nil
		},
		all: func() (io.Reader, error) {
			_, err := d.Seek(0, io.SeekStart)
			return d, err
		},
	}
}

func summarize(r io.Reader, src source, name string, size int64, trusted keys.Set) ([]Summary, error) {
	reports, err := verify.Recordings(r, trusted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch len(reports) {
	case 0:
		return nil, nil
	case 1:
		s := Summary{File: name, Size: size}
		s.setState(reports[0])
		first, err := edgeMessage(src, size, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		last, err := edgeMessage(src, size, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if first != nil {
			s.describe(first, last)
		}
		return []Summary{s}, nil
	}
	all, err := src.all()
	if err != nil {
		return nil, err
	}
	return scan(all, name, reports)
}

func (s *Summary) setState(r verify.Report) {
	s.Rec, s.State, s.LastHash = r.Rec, r.State.String(), r.LastHash
	if r.State != verify.OK {
		s.Detail = r.Detail
	}
}

// message is what a summary takes from one message.
type message struct {
	rec, user, host, term string
	time                  time.Time // zero when the format has none
	pos, end              time.Duration
}

// decode decodes line (with or without its '\n') into m.
func (m *message) decode(d *tlog.Decoder, line []byte) error {
	var t tlog.Message
	if err := d.Decode(bytes.TrimSuffix(line, []byte("\n")), &t); err != nil {
		return err
	}
	*m = message{rec: t.Rec, user: t.User, host: t.Host, term: t.Term, time: t.Time, pos: t.Pos, end: EndOf(&t)}
	return nil
}

// EndOf is the time of a message's last packet, from the recording's start.
func EndOf(m *tlog.Message) time.Duration {
	if n := len(m.Events); n > 0 {
		return m.Events[n-1].T
	}
	return m.Pos
}

// describe fills in the metadata from a recording's first and last message
// (last may be nil when it is the first).
func (s *Summary) describe(first, last *message) {
	s.User, s.Host, s.Term = first.user, first.host, first.term
	if s.Rec == "" {
		s.Rec = first.rec
	}
	if !first.time.IsZero() {
		// time is the wall clock at the message's pos; the recording
		// starts pos earlier.
		s.Start = first.time.Add(-first.pos)
	}
	if last == nil {
		last = first
	}
	s.Duration = tlog.Seconds(last.end)
	if !last.time.IsZero() {
		s.End = last.time.Add(last.end - last.pos).UTC()
	}
}

// lines calls f with each line of r until f returns false; a line longer
// than tlog.MaxLine is an error.
func lines(r io.Reader, f func(line []byte) bool) error {
	lr := tlog.NewLineReader(r, 32<<10, tlog.MaxLine)
	for {
		line, err := lr.ReadLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !f(line) {
			return nil
		}
	}
}

// edgeBlock is the first block edgeMessage reads.
const edgeBlock = 64 << 10

// edgeMessage returns the first (or last) message that decodes, looking
// from the start (or the end) in growing blocks; a line cut by the block's
// edge, or truncated at the end, is passed over.
func edgeMessage(src source, size int64, first bool) (*message, error) {
	var dec tlog.Decoder
	for block := int64(edgeBlock); ; block *= 8 {
		n := min(block, size)
		off := int64(0)
		if !first {
			off = size - n
		}
		buf, err := src.block(off, n)
		if err != nil {
			return nil, err
		}
		whole := n == size
		if !whole && first {
			buf = buf[:bytes.LastIndexByte(buf, '\n')+1]
		} else if !whole {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				i = len(buf) - 1 // all of it is one line's middle
			}
			buf = buf[i+1:]
		}
		for len(buf) > 0 {
			var line []byte
			if first {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					i = len(buf) - 1
				}
				line, buf = buf[:i+1], buf[i+1:]
			} else {
				end := bytes.TrimRight(buf, "\n")
				i := bytes.LastIndexByte(end, '\n')
				line, buf = end[i+1:], end[:i+1]
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var m message
			if m.decode(&dec, line) == nil {
				return &m, nil
			}
		}
		if whole || block >= tlog.MaxLine {
			return nil, nil
		}
	}
}

// scan reads data holding several recordings from its start, collecting
// each one's first and last message and size.
func scan(d io.Reader, name string, reports []verify.Report) ([]Summary, error) {
	type acc struct {
		first, last message
		size        int64
	}
	recs := map[string]*acc{}
	var dec tlog.Decoder
	err := lines(d, func(line []byte) bool {
		var m message
		if m.decode(&dec, line) == nil {
			a := recs[m.rec]
			if a == nil {
				a = &acc{first: m}
				recs[m.rec] = a
			}
			a.last = m
			a.size += int64(len(line))
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]Summary, 0, len(reports))
	for _, r := range reports {
		s := Summary{File: name}
		s.setState(r)
		if a := recs[r.Rec]; a != nil {
			s.Size = a.size
			s.describe(&a.first, &a.last)
		}
		out = append(out, s)
	}
	return out, nil
}

// ReadHead summarizes the recording in the file at path from its first
// message alone: rec, user, host, terminal, start, and the file's size. It
// neither verifies nor reads further: a file whose first line is not a
// message is not a recording.
func ReadHead(path string) (*Summary, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Head(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Head is ReadHead of an open file, read from its current offset.
func Head(f *os.File) (*Summary, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	s := &Summary{File: f.Name(), Size: fi.Size()}
	var dec tlog.Decoder
	n, found := 0, false
	var derr error
	err = lines(f, func(line []byte) bool {
		n++
		if len(bytes.TrimSpace(line)) == 0 {
			return true
		}
		var m message
		if derr = m.decode(&dec, line); derr != nil {
			derr = fmt.Errorf("line %d: not a recording: %w", n, derr)
			return false
		}
		s.describe(&m, nil)
		s.Duration, s.End = 0, time.Time{} // the first message does not say
		found = true
		return false
	})
	switch {
	case err != nil:
		return nil, err
	case derr != nil:
		return nil, derr
	case !found:
		return nil, errors.New("empty, not a recording")
	}
	if !s.Start.IsZero() {
		s.Start = s.Start.UTC()
	}
	return s, nil
}
