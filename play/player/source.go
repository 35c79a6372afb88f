package player

import (
	"bytes"
	"errors"
	"io"
	"os"

	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// ReaderSource is the events of a reader.Reader. Unlike Reader.Events it
// can be asked again after io.EOF, which follow mode needs: the reader then
// reads on from where its input ended.
type ReaderSource struct {
	r          *reader.Reader
	evs        []tlog.Event // the rest of the current message's events
	winKnown   bool
	cols, rows int
}

// NewReaderSource reads events from r.
func NewReaderSource(r *reader.Reader) *ReaderSource { return &ReaderSource{r: r} }

// Next returns the next event; window events restating the current size
// (tlog repeats it in every message) are left out, as by Reader.Events.
// The event's Data is valid until the next call.
func (s *ReaderSource) Next() (tlog.Event, error) {
	for {
		for len(s.evs) > 0 {
			ev := s.evs[0]
			s.evs = s.evs[1:]
			if ev.Kind == tlog.KindWindow {
				if s.winKnown && ev.Cols == s.cols && ev.Rows == s.rows {
					continue
				}
				s.winKnown, s.cols, s.rows = true, ev.Cols, ev.Rows
			}
			return ev, nil
		}
		m, err := s.r.Next()
		if err != nil {
			return tlog.Event{}, err
		}
		s.evs = m.Events
	}
}

// Tail reads a file that is still being written, for follow mode: it hands
// out only complete lines (a writer may be halfway through one) and returns
// io.EOF, without blocking, whenever no complete line is there yet. Read
// again after io.EOF to get what was appended since.
type Tail struct {
	f    *os.File
	buf  []byte // read from f, not handed out yet
	done int    // length of buf's complete lines not yet handed out
}

// NewTail reads f from its current offset.
func NewTail(f *os.File) *Tail { return &Tail{f: f} }

// Read implements io.Reader.
func (t *Tail) Read(p []byte) (int, error) {
	for t.done == 0 {
		var chunk [32 << 10]byte
		n, err := t.f.Read(chunk[:])
		t.buf = append(t.buf, chunk[:n]...)
		if i := bytes.LastIndexByte(t.buf, '\n'); i >= 0 {
			t.done = i + 1
			break
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, t.buf[:t.done])
	t.done -= n
	t.buf = t.buf[n:]
	return n, nil
}
