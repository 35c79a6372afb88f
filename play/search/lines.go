package search

import (
	"time"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/screen"
)

// screenSearch finds the lines of a screen that match: each line (rows
// joined where the output wrapped) is checked when it changes, and lines
// that leave the screen (play/screen reports every way) are checked too,
// in case they appeared and went within one write. A line matching at one
// check and still matching at the next, wherever scrolling moved it, is
// the same appearance and reported once.
type screenSearch struct {
	match func(string) bool
	scr   *screen.Screen
	found []string
}

func (s *screenSearch) init(cols, rows int) {
	s.scr = screen.New(cols, rows)
	s.scr.OnScroll = s.leave
	s.scr.OnClear = func(ls []screen.Line) {
		for _, l := range ls {
			s.leave(l)
		}
	}
}

func (s *screenSearch) leave(l screen.Line) {
	if !l.Marked && s.match(l.Text) {
		s.found = append(s.found, l.Text)
	}
}

func (s *screenSearch) resize(cols, rows int) {
	if s.scr == nil {
		s.init(cols, rows)
		return
	}
	s.scr.Resize(cols, rows)
}

// write applies output and returns the lines that newly match.
func (s *screenSearch) write(p []byte) []string {
	if s.scr == nil {
		s.init(0, 0)
	}
	s.scr.Write(p)
	s.scr.Changed(func(text string, marked bool) bool {
		m := s.match(text)
		if m && !marked {
			s.found = append(s.found, text)
		}
		return m
	})
	found := s.found
	s.found = nil
	return found
}

// inputSearch rebuilds the lines the user typed (backspace, ^U and ^W
// applied, other control keys and escape sequences left out) and reports
// each line that matches once, at the keystroke that made it match.
type inputSearch struct {
	// onPeak, if set, gets the line before each deletion from it and at
	// its end: every version of the line is a beginning of one of them.
	onPeak  func(string)
	grown   bool // the line grew since onPeak last had it
	line    []rune
	esc     int // 0 outside an escape sequence, 1 after ESC, 2 in a CSI or SS3 sequence
	matched bool
	at      time.Duration
}

func (s *inputSearch) write(t time.Duration, p []byte, match func(string) bool) []Hit {
	var hits []Hit
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		p = p[size:]
		switch {
		case s.esc == 1:
			s.esc = 0
			if r == '[' || r == 'O' {
				s.esc = 2
			}
			continue
		case s.esc == 2:
			if r >= 0x40 && r <= 0x7e {
				s.esc = 0
			}
			continue
		}
		switch r {
		case '\r', '\n', 0x7f, '\b', 0x15, 0x17:
			if s.onPeak != nil && s.grown {
				s.onPeak(string(s.line))
			}
			s.grown = false
		}
		switch r {
		case '\r', '\n':
			if h, ok := s.finish(); ok {
				hits = append(hits, h)
			}
		case 0x7f, '\b':
			if len(s.line) > 0 {
				s.line = s.line[:len(s.line)-1]
			}
		case 0x15: // ^U
			s.line = s.line[:0]
		case 0x17: // ^W
			n := len(s.line)
			for n > 0 && s.line[n-1] == ' ' {
				n--
			}
			for n > 0 && s.line[n-1] != ' ' {
				n--
			}
			s.line = s.line[:n]
		case 0x1b:
			s.esc = 1
		default:
			if r >= ' ' && r != utf8.RuneError {
				s.line = append(s.line, r)
				s.grown = true
			}
		}
		if !s.matched && len(s.line) > 0 && match(string(s.line)) {
			s.matched, s.at = true, t
		}
	}
	return hits
}

// finish ends the current line, returning it as a hit if it matched.
func (s *inputSearch) finish() (Hit, bool) {
	h, ok := Hit{t: s.at, Line: string(s.line)}, s.matched
	s.line, s.matched = s.line[:0], false
	return h, ok
}
