// Package index builds a recording's seeking index: keyframes of the
// terminal's state, each the place in the file where it holds and the
// escape sequences that repaint it, so that a player can go to any time by
// repainting the keyframe before it and writing the little output that
// follows. Indexes are cached beside the recording or in the user's cache
// directory (cache.go).
package index

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Keyframes are taken after the first message that ends between escape
// sequences once either bound is passed since the last one. The byte bound
// keeps what a seek reads and writes after the keyframe small; the time
// bound keeps the keyframes of a slow recording from being far apart.
// Either way, a keyframe's repaint is at most a repaintShare of the
// recording since the one before, so that the index of a recording that
// keeps a big screen full of colours stays small.
const (
	DefaultEvery     = 512 << 10
	DefaultEveryTime = time.Minute
	repaintShare     = 8
)

// Keyframe is the terminal's state at a point between two messages.
type Keyframe struct {
	// T is the time of the last event before the keyframe (-1 for the
	// start): it holds every event up to T and none after.
	T   time.Duration
	Pos reader.Position
	// Cols and Rows are the window's size then, as play/screen models it
	// (0 before the first window record).
	Cols, Rows int
	// Repaint brings a freshly reset terminal of Cols×Rows to the state
	// (screen.Screen.Repaint); empty at the start.
	Repaint []byte
}

// Index is a recording's keyframes, in order; the first is the start.
type Index struct {
	Keyframes []Keyframe
}

// Before returns the last keyframe that holds only events before t.
func (x *Index) Before(t time.Duration) *Keyframe {
	i := len(x.Keyframes) - 1
	for i > 0 && x.Keyframes[i].T >= t {
		i--
	}
	return &x.Keyframes[i]
}

// Options control building.
type Options struct {
	Reader    reader.Options // as the player reads the recording
	Every     int64          // recording bytes between keyframes; 0: DefaultEvery
	EveryTime time.Duration  // recording time between keyframes; 0: DefaultEveryTime
	// Progress, if set, is told now and then how many of the file's bytes
	// have been indexed, and done = total at the end.
	Progress func(done, total int64)
}

// progressEvery is how many bytes pass between Progress calls.
const progressEvery = 4 << 20

// Build reads the recording at path and returns its index. A malformed
// line ends the index there (playing reports it when it gets there).
func Build(ctx context.Context, path string, o Options) (*Index, error) {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.EveryTime <= 0 {
		o.EveryTime = DefaultEveryTime
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ro := o.Reader
	ro.OnSkip = nil
	ro.Workers = 2 // decoding beside the emulator
	r := reader.New(f, path, ro)
	defer r.Close()
	x := &Index{Keyframes: []Keyframe{{T: -1}}}
	var scr *screen.Screen
	last := x.Keyframes[0]
	nextProgress := int64(0)
	nextTry := int64(0) // no keyframe before this offset: its repaint would be too big
	for {
		m, err := r.Next()
		if err != nil {
			var re *reader.Error
			if err != io.EOF && !errors.As(err, &re) {
				return nil, err
			}
			if o.Progress != nil {
				o.Progress(fi.Size(), fi.Size())
			}
			return x, nil
		}
		for _, ev := range m.Events {
			switch ev.Kind {
			case tlog.KindWindow:
				if scr == nil {
					scr = screen.New(ev.Cols, ev.Rows)
				} else {
					scr.Resize(ev.Cols, ev.Rows)
				}
			case tlog.KindOut:
				if scr == nil {
					// Output before any window: the player's
					// terminal size is unknown here; 80x24 as
					// the text export.
					scr = screen.New(0, 0)
				}
				scr.Write(ev.Data)
			}
		}
		pos := r.Position()
		if pos.Offset >= nextProgress {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.Progress != nil {
				o.Progress(pos.Offset, fi.Size())
			}
			nextProgress = pos.Offset + progressEvery
		}
		since := pos.Offset - last.Pos.Offset
		if scr == nil || (since < o.Every && pos.T-max(last.T, 0) < o.EveryTime) || pos.Offset < nextTry || !scr.Ground() {
			continue
		}
		repaint := scr.Repaint()
		if n := int64(len(repaint)) * repaintShare; n > since {
			nextTry = last.Pos.Offset + n
			continue
		}
		cols, rows := scr.Size()
		last = Keyframe{T: pos.T, Pos: pos, Cols: cols, Rows: rows, Repaint: repaint}
		x.Keyframes = append(x.Keyframes, last)
	}
}
