// Package reader reads tlog JSON recordings (Vigil's and tlog-rec's, format
// versions 2.x) as a stream of messages or timed events, with tlog-play's
// rules: one message per line, blank lines skipped, an optional recording
// filter, message ids in order, packet times never going backwards.
//
// Malformed input ends the stream with one *Error naming the file and line,
// after every valid message before it; in lax mode bad lines are skipped,
// counted and passed to Options.OnSkip instead.
package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/vigil-rec/vigil/rec/tlog"
)

// Message is one decoded tlog message, as tlog.Decoder decodes it; Line
// and Size are set. The byte slices and the events' Data alias the reader's
// buffers: they are valid until the next call to Next (or Peek after a
// Next), and must be copied to be kept.
type Message = tlog.Message

// Error is a problem at one line of the input.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Options control what a Reader accepts.
type Options struct {
	// Rec selects one recording out of a file holding several: messages
	// with another "rec" are skipped; messages without "rec" pass, as with
	// tlog-play -m.
	Rec string
	// Lax accepts id gaps (ids must still increase) and skips bad lines
	// instead of failing, like tlog-play --lax plus skipping.
	Lax bool
	// OnSkip, in lax mode, is told about every line skipped.
	OnSkip func(*Error)
	// MaxLine bounds a line's length; 0 means tlog.MaxLine.
	MaxLine int
	// Workers above 1 decode lines on that many goroutines, reading
	// ahead of the messages returned: decoding is most of the work of
	// reading. Close must then be called. Not for inputs read again after
	// io.EOF (a file that grows).
	Workers int
}

// Reader reads messages from a recording. It is not safe for concurrent use.
type Reader struct {
	name   string
	closer io.Closer
	opt    Options

	lines *lineReader // reads and decodes lines here, or
	pipe  *pipeline   // on other goroutines (Options.Workers)
	dec   tlog.Decoder
	it    item
	msg   Message
	cur   *Message // the message returned last

	line int   // number of the last line read
	off  int64 // input bytes consumed
	pos  Position

	started bool // a message passed the checks
	lastID  uint64
	lastRec string
	lastT   time.Duration

	peeked  bool
	peekErr error
	err     error // sticky: the stream ended with it

	skipped int

	winKnown   bool
	cols, rows int
}

// Open opens a recording file; "-" is standard input, named "<stdin>" in
// errors.
func Open(path string, opt Options) (*Reader, error) {
	if path == "-" {
		return New(os.Stdin, "<stdin>", opt), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := New(f, path, opt)
	r.closer = f
	return r, nil
}

// New reads from src; name is used in errors.
func New(src io.Reader, name string, opt Options) *Reader {
	return Resume(src, name, opt, Position{})
}

// Resume reads src, which holds the input from pos.Offset on, as the Reader
// that returned pos would read on. Options must be the same.
func Resume(src io.Reader, name string, opt Options, pos Position) *Reader {
	if opt.MaxLine <= 0 {
		opt.MaxLine = tlog.MaxLine
	}
	r := &Reader{name: name, opt: opt, off: pos.Offset, line: pos.Line, pos: pos,
		started: pos.Started, lastID: pos.ID, lastRec: pos.Rec, lastT: pos.T}
	lr := &lineReader{tlog.NewLineReader(src, 256<<10, opt.MaxLine)}
	lr.Off, lr.Line = pos.Offset, pos.Line
	if opt.Workers > 1 {
		r.pipe = startPipeline(lr, opt.Workers)
	} else {
		r.lines = lr
	}
	return r
}

// Close stops the decoding goroutines (Options.Workers) and closes the
// file opened by Open (not standard input).
func (r *Reader) Close() error {
	if r.pipe != nil {
		r.pipe.stop()
	}
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// Name is the input's name as used in errors.
func (r *Reader) Name() string { return r.name }

// Skipped is the number of lines skipped in lax mode so far.
func (r *Reader) Skipped() int { return r.skipped }

// Position is a place between two messages of the input, with the state
// the ordering rules carry over: a Reader resumed there (Resume) reads on as
// if it had read everything before.
type Position struct {
	Offset  int64  // input bytes before it
	Line    int    // lines before it
	Started bool   // a message came before it
	ID      uint64 // id of the message before it
	Rec     string // rec of the message before it
	T       time.Duration
}

// Position is where the message last read (by Next or Peek) ends.
func (r *Reader) Position() Position { return r.pos }

// Peek returns the next message without consuming it.
func (r *Reader) Peek() (*Message, error) {
	if !r.peeked {
		m, err := r.next()
		r.peeked, r.peekErr = true, err
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	if r.peekErr != nil {
		return nil, r.peekErr
	}
	return r.cur, nil
}

// Next returns the next message. At the end of the input it returns io.EOF;
// malformed input gives an *Error (then returned again by every call).
func (r *Reader) Next() (*Message, error) {
	if r.peeked {
		r.peeked = false
		if r.peekErr != nil {
			return nil, r.peekErr
		}
		return r.cur, nil
	}
	return r.next()
}

// Events yields the events of all messages in order: output, input and
// window changes, with times relative to the recording's start. Window
// records that restate the current size (tlog repeats it at the start of
// every message) are left out. A malformed input ends the sequence with
// its error.
func (r *Reader) Events() iter.Seq2[tlog.Event, error] {
	return func(yield func(tlog.Event, error) bool) {
		for {
			m, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(tlog.Event{}, err)
				return
			}
			for _, ev := range m.Events {
				if ev.Kind == tlog.KindWindow {
					if r.winKnown && ev.Cols == r.cols && ev.Rows == r.rows {
						continue
					}
					r.winKnown, r.cols, r.rows = true, ev.Cols, ev.Rows
				}
				if !yield(ev, nil) {
					return
				}
			}
		}
	}
}

// fail ends the stream with err at the current line, or in lax mode skips
// the line and reports whether reading goes on.
func (r *Reader) fail(err error) (stop bool) {
	e := &Error{File: r.name, Line: r.line, Err: err}
	if r.opt.Lax {
		r.skipped++
		if r.opt.OnSkip != nil {
			r.opt.OnSkip(e)
		}
		return false
	}
	r.err = e
	return true
}

func (r *Reader) next() (*Message, error) {
	for r.err == nil {
		it, err := r.nextItem()
		if err == io.EOF {
			return nil, io.EOF
		}
		r.line, r.off = it.line, it.off
		if it.err != nil {
			var tl *tlog.TooLongError
			if errors.As(it.err, &tl) {
				if r.fail(it.err) {
					break
				}
				continue
			}
			r.err = &Error{File: r.name, Line: r.line, Err: fmt.Errorf("read: %w", it.err)}
			break
		}
		if it.blank {
			continue
		}
		m := it.msg
		if derr := it.derr; derr != nil {
			if r.opt.Rec != "" {
				// A broken line of another recording in a shared file
				// does not concern the selected one.
				if rec, ok := tlog.GuessRec(it.text); ok && rec != r.opt.Rec {
					continue
				}
			}
			if !it.terminated {
				derr = fmt.Errorf("incomplete last line (no newline at the end of the file): %w", derr)
			}
			if r.fail(derr) {
				break
			}
			continue
		}
		if r.opt.Rec != "" && m.Rec != "" && m.Rec != r.opt.Rec {
			continue
		}
		if err := r.checkOrder(m); err != nil {
			if r.fail(err) {
				break
			}
			continue
		}
		m.Line, m.Size = r.line, len(it.text)
		r.pos = Position{Offset: r.off, Line: r.line, Started: true, ID: m.ID, Rec: m.Rec, T: r.lastT}
		r.cur = m
		return m, nil
	}
	return nil, r.err
}

// nextItem reads the next line and decodes it, or takes it from the
// pipeline. At the end of the input it returns io.EOF.
func (r *Reader) nextItem() (*item, error) {
	if r.pipe != nil {
		return r.pipe.next()
	}
	it := &r.it
	*it = item{msg: &r.msg}
	if !r.lines.read(it) {
		return nil, io.EOF
	}
	it.decode(&r.dec)
	return it, nil
}

// checkOrder applies tlog-play's ordering rules and advances the state.
func (r *Reader) checkOrder(m *Message) error {
	if r.started {
		ok := m.ID == r.lastID+1 || (r.opt.Lax && m.ID > r.lastID)
		if !ok {
			switch {
			case r.opt.Rec == "" && m.Rec != r.lastRec:
				return fmt.Errorf("message of recording %q follows one of recording %q: the file holds several recordings, select one with --rec", m.Rec, r.lastRec)
			case !r.opt.Lax && m.ID > r.lastID:
				return fmt.Errorf("message id %d follows id %d: messages are missing (--lax accepts gaps)", m.ID, r.lastID)
			default:
				return fmt.Errorf("message id %d is out of order after id %d", m.ID, r.lastID)
			}
		}
	}
	last := r.lastT
	for _, ev := range m.Events {
		if ev.T < last {
			return fmt.Errorf("packet time %v is before the previous packet's %v", ev.T, last)
		}
		last = ev.T
	}
	r.started, r.lastID, r.lastRec, r.lastT = true, m.ID, m.Rec, last
	return nil
}

// item is one line of the input and what decoding it gave.
type item struct {
	text       []byte
	terminated bool  // text ends with '\n'
	line       int   // its number
	off        int64 // input bytes up to its end
	err        error // reading failed: *tlog.TooLongError (skipped), or the input's error
	blank      bool
	msg        *Message
	derr       error // decoding failed
}

// decode decodes the line into it.msg.
func (it *item) decode(d *tlog.Decoder) {
	if it.err != nil {
		return
	}
	if it.blank = isBlank(it.text); !it.blank {
		it.derr = d.Decode(it.text, it.msg)
	}
}

// lineReader reads the input's lines into items.
type lineReader struct{ *tlog.LineReader }

// read reads the next line into it (text valid until the next read); false
// at the end of the input. A line longer than the bound is consumed to its
// end without being kept, and it.err says so.
func (l lineReader) read(it *item) bool {
	it.text, it.err = l.ReadLine()
	if it.err == io.EOF {
		return false
	}
	it.terminated = bytes.HasSuffix(it.text, []byte("\n"))
	it.line, it.off = l.Line, l.Off
	return true
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// ParseLine decodes one message line (with or without its '\n') without the
// ordering checks of a Reader. The message's byte slices may alias line.
func ParseLine(line []byte) (*Message, error) {
	var d tlog.Decoder
	m := &Message{Size: len(line)}
	if err := d.Decode(line, m); err != nil {
		return nil, err
	}
	return m, nil
}
