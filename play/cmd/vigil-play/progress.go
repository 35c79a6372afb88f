package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progressBar shows how far a long job is on standard error, only when
// that is a terminal: redirected, it would fill a log with bars.
type progressBar struct {
	w     io.Writer
	label string
	last  time.Time
	shown bool
}

// newProgressBar returns nil, which shows nothing, when w is not a terminal.
func newProgressBar(w io.Writer, label string) *progressBar {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progressBar{w: w, label: label}
}

// update shows done of total, at most ten times a second; done = total
// removes the bar.
func (p *progressBar) update(done, total int64) {
	if p == nil {
		return
	}
	if done >= total {
		p.clear()
		return
	}
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.shown = time.Now(), true
	const width = 30
	n := int(done * width / total)
	fmt.Fprintf(p.w, "\r\x1b[Kvigil-play: %s [%s%s] %3d%%", p.label, strings.Repeat("#", n), strings.Repeat(".", width-n),
		done*100/total)
}

// clear removes the bar.
func (p *progressBar) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
