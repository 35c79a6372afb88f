package player

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Seeker is a Source that can restart at a keyframe: going back, or far
// ahead without writing everything in between.
type Seeker interface {
	Source
	// SeekBefore moves to the last keyframe that holds only events before
	// t, unless that keyframe's time is not after from: then it stays and
	// returns jumped false. After a jump, the next events are those after
	// the keyframe, which holds the events up to time at (-1: none, the
	// start) and is repainted by repaint.
	SeekBefore(ctx context.Context, t, from time.Duration) (at time.Duration, repaint []byte, jumped bool, err error)
}

// FileSource is a recording file's events, seeking with its index, which
// is built (or taken from the cache) at the first seek.
type FileSource struct {
	// Warn, if set, is told when the index cannot be cached.
	Warn func(error)

	path string
	opt  index.Options
	f    *os.File
	r    *reader.Reader
	src  *ReaderSource
	idx  *index.Index

	onSkip  func(*reader.Error)
	skipped int
	maxSkip int // the last line reported skipped: seeking back reads lines again
}

// OpenFile opens a recording file for playing from its start; o is how it
// is read and indexed. o.Reader.OnSkip is told about each skipped line
// once, however often seeking reads it.
func OpenFile(path string, o index.Options) (*FileSource, error) {
	s := &FileSource{path: path, opt: o, onSkip: o.Reader.OnSkip}
	s.opt.Reader.OnSkip = s.skip
	if err := s.open(reader.Position{}); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSource) skip(e *reader.Error) {
	if e.Line <= s.maxSkip {
		return
	}
	s.maxSkip = e.Line
	s.skipped++
	if s.onSkip != nil {
		s.onSkip(e)
	}
}

// open reads the file from pos. The window size is not carried over: tlog
// restates it in every message, and the player hears of it again.
func (s *FileSource) open(pos reader.Position) error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	if s.f != nil {
		s.Close()
	}
	s.f, s.r = f, reader.Resume(f, s.path, s.opt.Reader, pos)
	s.src = NewReaderSource(s.r)
	return nil
}

// Next implements Source.
func (s *FileSource) Next() (tlog.Event, error) { return s.src.Next() }

// SeekBefore implements Seeker.
func (s *FileSource) SeekBefore(ctx context.Context, t, from time.Duration) (time.Duration, []byte, bool, error) {
	if s.idx == nil {
		x, err := index.Open(ctx, s.path, s.opt, s.Warn)
		if err != nil {
			return 0, nil, false, err
		}
		s.idx = x
	}
	k := s.idx.Before(t)
	if k.T <= from {
		return 0, nil, false, nil
	}
	if err := s.open(k.Pos); err != nil {
		return 0, nil, false, err
	}
	return k.T, k.Repaint, true, nil
}

// Skipped is the number of lines skipped in lax mode.
func (s *FileSource) Skipped() int { return s.skipped }

// Close closes the file.
func (s *FileSource) Close() error {
	s.r.Close()
	return s.f.Close()
}
