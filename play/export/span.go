package export

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/play/termfilter"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Span is the part of a recording a JSON export covers, so that a viewer
// can start anywhere in a large recording without reading all of it.
type Span struct {
	// From < 0 starts at the beginning. Otherwise the export starts with
	// one "screen" event: the terminal as it was after every event up to
	// From (cols, rows, and what repaints a reset terminal of that size),
	// followed by the events after From.
	From time.Duration
	// To < 0 goes to the end; otherwise events after To are left out.
	To time.Duration
	// MaxBytes, if above 0, ends the span early once its output events
	// hold that many bytes, at the next change of time T, with a "cut"
	// event at T: the span that follows starts From T. A flood then
	// comes in pieces a viewer can take.
	MaxBytes int64
}

// WriteJSONSpan writes the JSON export of span of the recording file at
// path. It goes to From through the seeking index (built, or taken from its
// cache, as play does; a failure to cache it is passed to warn, which may
// be nil): the keyframe before From, then the screen model up to From.
func WriteJSONSpan(ctx context.Context, w io.Writer, path string, span Span, o Options, xo index.Options, warn func(error)) error {
	var k index.Keyframe
	if span.From >= 0 {
		x, err := index.Open(ctx, path, xo, warn)
		if err != nil {
			return err
		}
		// Before(t) holds only events before t: those up to From here.
		k = *x.Before(span.From + 1)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(k.Pos.Offset, io.SeekStart); err != nil {
		return err
	}
	r := reader.Resume(f, path, xo.Reader, k.Pos)
	defer r.Close()

	bw := bufio.NewWriterSize(w, 256<<10)
	err = writeSpan(newJSONWriter(bw, o), r, span, k)
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	return err
}

// writeSpan writes the span's events read by r, which starts at keyframe
// k. On malformed input it returns the reader's error after what came
// before.
func writeSpan(j *jsonWriter, r *reader.Reader, span Span, k index.Keyframe) error {
	var scr *screen.Screen // the screen up to From
	if span.From >= 0 && k.Cols > 0 {
		scr = screen.New(k.Cols, k.Rows)
		scr.Write(k.Repaint)
	}
	before := span.From >= 0
	var out int64             // output bytes written
	last := time.Duration(-1) // the time of the last event written
	for ev, err := range r.Events() {
		if err != nil {
			return err
		}
		if span.To >= 0 && ev.T > span.To {
			break
		}
		if span.MaxBytes > 0 && out >= span.MaxBytes && ev.T > last {
			if err := j.write(append(appendSeconds(append(j.b[:0], `{"time":`...), last), `,"kind":"cut"`...)); err != nil {
				return err
			}
			break
		}
		if before && ev.T <= span.From {
			scr = toScreen(scr, ev)
			if ev.Kind == tlog.KindOut && j.filter != nil {
				// Keeps the filter in step: a sequence cut at From
				// is held and passes (or not) as a whole.
				_, _ = j.filter.Write(ev.Data)
				j.filtered.Reset()
			}
			continue
		}
		if before {
			before = false
			if err := j.screen(span.From, scr); err != nil {
				return err
			}
		}
		if err := j.event(ev); err != nil {
			return err
		}
		last = ev.T
		if ev.Kind == tlog.KindOut {
			out += int64(len(ev.Data))
		}
	}
	if before {
		// The recording ends at or before From.
		return j.screen(span.From, scr)
	}
	return nil
}

// toScreen plays ev into scr, made at the first window or output as the
// index makes it.
func toScreen(scr *screen.Screen, ev tlog.Event) *screen.Screen {
	switch ev.Kind {
	case tlog.KindWindow:
		if scr == nil {
			return screen.New(ev.Cols, ev.Rows)
		}
		scr.Resize(ev.Cols, ev.Rows)
	case tlog.KindOut:
		if scr == nil {
			scr = screen.New(0, 0)
		}
		scr.Write(ev.Data)
	}
	return scr
}

// jsonWriter writes the events of the JSON export.
type jsonWriter struct {
	w          *bufio.Writer
	b          []byte
	filter     *termfilter.Filter // nil unless Options.Filtered
	filtered   bytes.Buffer       // what the filter let through
	cols, rows int                // the last window written (0: none)
}

func newJSONWriter(w *bufio.Writer, o Options) *jsonWriter {
	j := &jsonWriter{w: w, b: make([]byte, 0, 4096)}
	if o.Filtered {
		j.filter = termfilter.New(&j.filtered)
	}
	return j
}

// event writes one event; a window restating the last one written is
// left out, and output the filter keeps entirely too.
func (j *jsonWriter) event(ev tlog.Event) error {
	switch ev.Kind {
	case tlog.KindWindow:
		if ev.Cols == j.cols && ev.Rows == j.rows {
			return nil
		}
		j.cols, j.rows = ev.Cols, ev.Rows
	case tlog.KindOut:
		if j.filter != nil {
			j.filtered.Reset()
			_, _ = j.filter.Write(ev.Data)
			if j.filtered.Len() == 0 {
				return nil
			}
			ev.Data = j.filtered.Bytes()
		}
	}
	b := appendSeconds(append(j.b[:0], `{"time":`...), ev.T)
	b = append(append(b, `,"kind":"`...), ev.Kind.String()...)
	b = append(b, '"')
	if ev.Kind == tlog.KindWindow {
		b = fmt.Appendf(b, `,"cols":%d,"rows":%d`, ev.Cols, ev.Rows)
	} else {
		b = appendData(b, ev.Data)
	}
	return j.write(b)
}

// screen writes the "screen" event: scr's size (80x24 when nothing set
// it yet) and its repaint.
func (j *jsonWriter) screen(t time.Duration, scr *screen.Screen) error {
	if scr == nil {
		scr = screen.New(0, 0)
	}
	j.cols, j.rows = scr.Size()
	b := appendSeconds(append(j.b[:0], `{"time":`...), t)
	b = fmt.Appendf(b, `,"kind":"screen","cols":%d,"rows":%d`, j.cols, j.rows)
	return j.write(appendData(b, scr.Repaint()))
}

func (j *jsonWriter) write(b []byte) error {
	j.b = append(b, "}\n"...)
	if _, err := j.w.Write(j.b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
