package tlog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"iter"
)

// MaxLine bounds one line of a recording. tlog lines are a few KiB; the
// bound keeps a hostile input from taking all memory.
const MaxLine = 64 << 20

// TooLongError is a line longer than the LineReader's bound; the reader
// has consumed it to its end.
type TooLongError struct{ Max int }

func (e *TooLongError) Error() string { return fmt.Sprintf("line longer than %d bytes", e.Max) }

// LineReader splits a recording into lines, counting them and their bytes.
// Every reader of recordings (player, verify, the store) uses it, so that
// they agree on what a line is.
type LineReader struct {
	br   *bufio.Reader
	max  int
	long []byte // a line longer than br's buffer, assembled
	// Line is the number of lines read, Off the bytes read; set them to
	// resume counting where an earlier reader stopped.
	Line int
	Off  int64
}

// NewLineReader reads lines of at most max bytes (MaxLine when max <= 0)
// from r, through a buffer of size bytes.
func NewLineReader(r io.Reader, size, max int) *LineReader {
	if max <= 0 {
		max = MaxLine
	}
	return &LineReader{br: bufio.NewReaderSize(r, size), max: max}
}

// ReadLine returns the next line with its '\n' (absent only on the
// input's last line) and valid until the next call, or io.EOF at the end.
// A line longer than the bound is consumed to its end without being kept:
// the error is a *TooLongError and reading may go on.
func (l *LineReader) ReadLine() ([]byte, error) {
	chunk, err := l.br.ReadSlice('\n')
	l.Off += int64(len(chunk))
	if err == nil || (err == io.EOF && len(chunk) > 0) {
		l.Line++
		return chunk, nil
	}
	if err == io.EOF {
		return nil, err
	}
	l.Line++
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	l.long = append(l.long[:0], chunk...)
	for {
		chunk, err = l.br.ReadSlice('\n')
		l.Off += int64(len(chunk))
		if len(l.long)+len(chunk) > l.max {
			l.long = l.long[:0]
			for err == bufio.ErrBufferFull {
				chunk, err = l.br.ReadSlice('\n')
				l.Off += int64(len(chunk))
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, &TooLongError{l.max}
		}
		l.long = append(l.long, chunk...)
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil, io.EOF:
			return l.long, nil
		default:
			return nil, err
		}
	}
}

// Lines yields the lines of data held in memory as a LineReader of bound
// max reads them (each with its '\n', absent only on the last; a line over
// the bound as nil and a *TooLongError), without copying them.
func Lines(data []byte, max int) iter.Seq2[[]byte, error] {
	if max <= 0 {
		max = MaxLine
	}
	return func(yield func([]byte, error) bool) {
		for len(data) > 0 {
			n := bytes.IndexByte(data, '\n') + 1
			if n == 0 {
				n = len(data)
			}
			line, err := data[:n], error(nil)
			if n > max {
				line, err = nil, &TooLongError{max}
			}
			data = data[n:]
			if !yield(line, err) {
				return
			}
		}
	}
}

// GuessRec finds the "rec" member of a line without decoding it (the line
// may not decode at all): the first `"rec":"` and the plain text after it.
func GuessRec(line []byte) (string, bool) {
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
