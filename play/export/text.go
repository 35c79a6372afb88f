package export

import (
	"bufio"
	"fmt"
	"slices"

	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// writeText writes the readable transcript: the output is played into a
// screen (play/screen), and every line is written when it leaves it
// (scrolled off, erased, dropped with the alternate screen or a smaller
// window), then what the screens hold at the end. The screen starts at the
// recording's first window size (o.Cols×o.Rows, or 80×24, if output comes
// first), sized as screen.FitSize says.
//
// Two things keep full-screen programs from filling it with copies: a
// screen wiped out with exactly the lines of the screen wiped out before it
// (a program repainting the same screen, clear run in a loop) is written
// once, and a run of blank lines is written as one.
func writeText(w *bufio.Writer, r *reader.Reader, o Options) error {
	t := &transcript{w: w}
	var s *screen.Screen
	start := func(cols, rows int) {
		s = screen.New(screen.FitSize(cols, rows, o.Cols, o.Rows))
		s.OnScroll = func(l screen.Line) { t.line(l.Text) }
		s.OnClear = t.cleared
	}
	for ev, err := range r.Events() {
		if err != nil {
			if s != nil {
				s.Flush()
			}
			return err
		}
		switch {
		case ev.Kind == tlog.KindWindow && s == nil:
			start(ev.Cols, ev.Rows)
		case ev.Kind == tlog.KindWindow:
			s.Resize(ev.Cols, ev.Rows)
		case ev.Kind == tlog.KindOut:
			if s == nil {
				start(o.Cols, o.Rows)
			}
			s.Write(ev.Data)
		}
		if t.err != nil {
			return fmt.Errorf("write: %w", t.err)
		}
	}
	if s != nil {
		s.Flush()
	}
	if t.err != nil {
		return fmt.Errorf("write: %w", t.err)
	}
	return nil
}

// transcript writes lines, dropping repeats of the last screen wiped out
// and runs of blank lines.
type transcript struct {
	w       *bufio.Writer
	err     error
	blank   bool     // the last line written was blank
	lastWip []string // the lines of the last screen wiped out
}

func (t *transcript) line(l string) {
	if t.err != nil || (l == "" && t.blank) {
		return
	}
	t.blank = l == ""
	if _, err := t.w.WriteString(l); err != nil {
		t.err = err
		return
	}
	t.err = t.w.WriteByte('\n')
}

func (t *transcript) cleared(ls []screen.Line) {
	if len(ls) == len(t.lastWip) && slices.EqualFunc(ls, t.lastWip, func(l screen.Line, s string) bool { return l.Text == s }) {
		return
	}
	t.lastWip = t.lastWip[:0]
	for _, l := range ls {
		t.lastWip = append(t.lastWip, l.Text)
		t.line(l.Text)
	}
}
