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
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/vigil-rec/vigil/rec/tlog"
)

// DefaultMaxLine bounds one line. tlog lines are a few KiB; the bound keeps
// a corrupt or hostile file from taking all memory.
const DefaultMaxLine = 64 << 20

// Message is one decoded tlog message. The byte slices and the events' Data
// alias the reader's buffers: they are valid until the next call to Next
// (or Peek after a Next), and must be copied to be kept.
type Message struct {
	Line int // 1-based line number in the input

	Ver          string // as written ("2.3", or an integer's digits)
	Major, Minor uint64
	Host         string
	Rec          string // "" if absent
	User, Term   string
	Session      uint32
	ID           uint64
	Pos          time.Duration
	Time         time.Time // zero if the optional "time" is absent
	Timing       []byte
	InTxt        []byte
	InBin        []byte // elements up to the first that is not an int 0..255
	OutTxt       []byte
	OutBin       []byte
	Events       []tlog.Event
	Size         int // bytes of the line, including its '\n'
}

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
	// MaxLine bounds a line's length; 0 means DefaultMaxLine.
	MaxLine int
}

// Reader reads messages from a recording. It is not safe for concurrent use.
type Reader struct {
	name   string
	br     *bufio.Reader
	closer io.Closer
	opt    Options

	dec  decoder
	msg  Message
	long []byte // a line longer than br's buffer, assembled
	line int    // number of the last line read

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
	if opt.MaxLine <= 0 {
		opt.MaxLine = DefaultMaxLine
	}
	return &Reader{name: name, br: bufio.NewReaderSize(src, 256<<10), opt: opt}
}

// Close closes the file opened by Open (not standard input).
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// Name is the input's name as used in errors.
func (r *Reader) Name() string { return r.name }

// Skipped is the number of lines skipped in lax mode so far.
func (r *Reader) Skipped() int { return r.skipped }

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
	return &r.msg, nil
}

// Next returns the next message. At the end of the input it returns io.EOF;
// malformed input gives an *Error (then returned again by every call).
func (r *Reader) Next() (*Message, error) {
	if r.peeked {
		r.peeked = false
		if r.peekErr != nil {
			return nil, r.peekErr
		}
		return &r.msg, nil
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
		line, terminated, err := r.readLine()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			var tl *tooLong
			if errors.As(err, &tl) {
				if r.fail(err) {
					break
				}
				continue
			}
			r.err = &Error{File: r.name, Line: r.line, Err: fmt.Errorf("read: %w", err)}
			break
		}
		if isBlank(line) {
			continue
		}
		m := &r.msg
		if derr := r.dec.decode(line, m); derr != nil {
			if r.opt.Rec != "" {
				// A broken line of another recording in a shared file
				// does not concern the selected one.
				if rec, ok := guessRec(line); ok && rec != r.opt.Rec {
					continue
				}
			}
			if !terminated {
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
		m.Line, m.Size = r.line, len(line)
		return m, nil
	}
	return nil, r.err
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

// tooLong is a line longer than MaxLine; the reader has skipped it.
type tooLong struct{ max int }

func (e *tooLong) Error() string { return fmt.Sprintf("line longer than %d bytes", e.max) }

// readLine returns the next line and whether it ended with '\n'. A line
// longer than MaxLine is consumed to its end without being kept.
func (r *Reader) readLine() (line []byte, terminated bool, err error) {
	chunk, err := r.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(chunk) > 0) {
		r.line++
		return chunk, err == nil, nil
	}
	if err == io.EOF {
		return nil, false, err
	}
	r.line++
	if err != bufio.ErrBufferFull {
		return nil, false, err
	}
	r.long = append(r.long[:0], chunk...)
	for {
		chunk, err = r.br.ReadSlice('\n')
		if len(r.long)+len(chunk) > r.opt.MaxLine {
			r.long = r.long[:0]
			for err == bufio.ErrBufferFull {
				_, err = r.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, false, err
			}
			return nil, false, &tooLong{r.opt.MaxLine}
		}
		r.long = append(r.long, chunk...)
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			return r.long, true, nil
		case io.EOF:
			return r.long, false, nil
		default:
			return nil, false, err
		}
	}
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if !isWS(c) {
			return false
		}
	}
	return true
}

// guessRec finds the "rec" member of a line that does not decode.
func guessRec(line []byte) (string, bool) {
	const key = `"rec":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := line[i+len(key):]
	j := bytes.IndexAny(rest, `"\`)
	if j < 0 || rest[j] != '"' {
		return "", false
	}
	return string(rest[:j]), true
}

// ParseLine decodes one message line (with or without its '\n') without the
// ordering checks of a Reader. The message's byte slices may alias line.
func ParseLine(line []byte) (*Message, error) {
	var d decoder
	m := &Message{Size: len(line)}
	if err := d.decode(line, m); err != nil {
		return nil, err
	}
	return m, nil
}
