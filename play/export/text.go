package export

import (
	"bufio"
	"fmt"

	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// writeText writes the readable transcript: the output is played into a
// screen, and each line is written when it scrolls off the top, the screen
// when a clear-screen wipes it, and what is left on the screen at the end
// (without its blank rows at the bottom). The screen starts at the
// recording's first window size (o.Cols×o.Rows, or 80×24, if output
// comes first).
func writeText(w *bufio.Writer, r *reader.Reader, o Options) error {
	var s *screen.Screen
	var werr error
	emit := func(lines ...string) {
		for _, l := range lines {
			if werr == nil {
				_, werr = w.WriteString(l + "\n")
			}
		}
	}
	start := func(cols, rows int) {
		s = screen.New(cols, rows)
		s.OnScroll = func(l string) { emit(l) }
		s.OnClear = func(ls []string) { emit(ls...) }
	}
	for ev, err := range r.Events() {
		if err != nil {
			if s != nil {
				emit(s.Text()...)
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
				cols, rows := o.Cols, o.Rows
				if cols <= 0 || rows <= 0 {
					cols, rows = 80, 24
				}
				start(cols, rows)
			}
			s.Write(ev.Data)
		}
		if werr != nil {
			return fmt.Errorf("write: %w", werr)
		}
	}
	if s != nil {
		emit(s.Text()...)
	}
	if werr != nil {
		return fmt.Errorf("write: %w", werr)
	}
	return nil
}
