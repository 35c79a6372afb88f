package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
)

func searchCmd() *cobra.Command {
	var (
		useRegex, input, asJSON bool
		o                       searchOptions
	)
	cmd := &cobra.Command{
		Use:   "search PATTERN [DIR|FILE...|--reader journal] [--regex] [--input] [--user U] [--rec R] [--json]",
		Short: "Find the moments where a text was shown on screen or typed",
		Long: `Search the recordings in each DIR (its *.jsonl files; default ` + store.DefaultDir + `) or FILE,
or with --reader journal those in the systemd journal, for PATTERN: plain text
or, with --regex, a Go regular expression (RE2 syntax). Each recording of a file
holding several (tlog's single-file layout) is searched on its own.

The recorded output is played into a terminal screen of the recorded size, and
each screen line is matched as it changes: a line is reported once for as long
as it stays on screen (scrolling included), with the time of the output that
made it match. With --input, lines typed by the user (when input was recorded)
are matched too, with the time of the keystroke that completed the match.

Each hit is printed as

  RECORDING  +HH:MM:SS.mmm  LINE

where RECORDING is what play takes to open it: FILE, "FILE -m REC" in a file
holding several recordings, or "-r journal REC" (typed lines start with
"(typed) "); or with --json as one object per hit: {"file" ("" for the
journal),"rec","offset","seconds","source":"screen"|"input","line"}. A hit is
replayed with: vigil-play play RECORDING --goto HH:MM:SS.mmm

Exit status: 0 found, 1 not found, 2 usage error or a recording could not be
read (the other recordings are still searched).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			match, err := compilePattern(args[0], useRegex)
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			o.match, o.input = match, input
			paths := args[1:]
			switch {
			case o.source != "file" && o.source != "journal":
				return &exitError{exitUsageErr, fmt.Errorf("--reader must be file or journal, not %q", o.source)}
			case o.source == "journal" && len(paths) > 0:
				return &exitError{exitUsageErr, errors.New("--reader journal searches the journal: no DIR or FILE")}
			case len(paths) == 0:
				paths = []string{store.DefaultDir}
			}
			return runSearch(cmd, paths, o, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&useRegex, "regex", false, "PATTERN is a Go regular expression")
	fl.BoolVar(&input, "input", false, "search the typed input too, when it was recorded")
	fl.StringVar(&o.user, "user", "", "only recordings of user `U`")
	fl.StringVarP(&o.rec, "rec", "m", "", "only the recording with id `R`")
	fl.StringVarP(&o.source, "reader", "r", "file", "read from `READER`: file, or journal (the recordings in the systemd journal)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per hit")
	return cmd
}

func compilePattern(pattern string, useRegex bool) (func(string) bool, error) {
	if pattern == "" {
		return nil, errors.New("empty PATTERN")
	}
	if !useRegex {
		return func(s string) bool { return strings.Contains(s, pattern) }, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("--regex: %w", err)
	}
	return re.MatchString, nil
}

type searchOptions struct {
	match     func(string) bool
	input     bool
	user, rec string
	source    string // "file" or "journal"
}

// hit is one moment where the pattern was found.
type hit struct {
	Name   string        `json:"-"` // the recording as play takes it
	File   string        `json:"file"`
	Rec    string        `json:"rec"`
	Offset string        `json:"offset"`
	T      time.Duration `json:"-"`
	Sec    float64       `json:"seconds"`
	Source string        `json:"source"` // "screen" or "input"
	Line   string        `json:"line"`
}

func runSearch(cmd *cobra.Command, args []string, o searchOptions, asJSON bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	status := exitFailed
	var first *hit
	report := func(hits []hit, err error) error {
		if err != nil {
			warn(stderr, "%v", err)
			status = exitUsageErr
		}
		if len(hits) > 0 && first == nil {
			first = &hits[0]
		}
		if werr := printHits(stdout, hits, asJSON); werr != nil {
			return &exitError{exitUsageErr, fmt.Errorf("write: %w", werr)}
		}
		return nil
	}
	if o.source == "journal" {
		recs, err := player.JournalRecordings()
		if err != nil {
			return &exitError{exitUsageErr, err}
		}
		for _, rec := range recs {
			if o.rec != "" && rec != o.rec {
				continue
			}
			if err := report(searchJournal(rec, o)); err != nil {
				return err
			}
		}
	} else {
		files, missing := recordingFiles(args, stderr)
		if missing {
			status = exitUsageErr
		}
		for _, path := range files {
			if err := report(searchFile(path, o)); err != nil {
				return err
			}
		}
	}
	if first != nil {
		if !asJSON {
			warn(stderr, "to replay a hit: vigil-play play RECORDING --goto OFFSET, e.g. vigil-play play %s --goto %s",
				first.Name, first.Offset)
		}
		if status != exitUsageErr {
			status = exitOK
		}
	}
	if status == exitOK {
		return nil
	}
	return &exitError{code: status}
}

func printHits(w io.Writer, hits []hit, asJSON bool) error {
	for _, h := range hits {
		var err error
		if asJSON {
			var b []byte
			if b, err = appendJSON(nil, h); err == nil {
				_, err = w.Write(b)
			}
		} else {
			line := h.Line
			if h.Source == "input" {
				line = "(typed) " + line
			}
			_, err = fmt.Fprintf(w, "%s  +%s  %s\n", printable(h.Name), h.Offset, printable(line))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// formatOffset formats d as HH:MM:SS.mmm, which --goto accepts.
func formatOffset(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

// searchFile returns the hits in the recordings of one file, each in time
// order, and the read error that ended one early, if any (with the hits
// before it). A file holding several recordings is searched recording by
// recording.
func searchFile(path string, o searchOptions) ([]hit, error) {
	recs, err := fileRecordings(path)
	if err != nil {
		return nil, err
	}
	if len(recs) <= 1 {
		r, err := reader.Open(path, reader.Options{Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return searchReader(r, hit{Name: path, File: path}, o)
	}
	var hits []hit
	for _, rec := range recs {
		if o.rec != "" && rec != o.rec {
			continue
		}
		r, err := reader.Open(path, reader.Options{Rec: rec, Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			return hits, err
		}
		h, err := searchReader(r, hit{Name: path + " -m " + rec, File: path}, o)
		r.Close()
		hits = append(hits, h...)
		if err != nil {
			return hits, err
		}
	}
	return hits, nil
}

// fileRecordings returns the recording ids in a file's lines in the order
// they first come.
func fileRecordings(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []string
	seen := map[string]bool{}
	br := bufio.NewReaderSize(f, 256<<10)
	for cont := false; ; {
		line, err := br.ReadSlice('\n')
		if rec, ok := reader.GuessRec(line); ok && !cont && !seen[rec] {
			seen[rec] = true
			recs = append(recs, rec)
		}
		cont = err == bufio.ErrBufferFull // the rest of a long line comes next
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return recs, nil
		default:
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
}

// searchJournal returns the hits in recording rec of the journal.
func searchJournal(rec string, o searchOptions) ([]hit, error) {
	j, err := player.OpenJournal(rec)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	r := reader.New(j, j.Name(), reader.Options{Rec: rec, Workers: runtime.GOMAXPROCS(0)})
	defer r.Close()
	return searchReader(r, hit{Name: "-r journal " + rec}, o)
}

// searchReader returns the hits in the recording r reads, in time order,
// named as in proto, and the read error that ended it early, if any (with
// the hits before it).
func searchReader(r *reader.Reader, proto hit, o searchOptions) ([]hit, error) {
	first, err := r.Peek()
	if first == nil || (o.user != "" && first.User != o.user) || (o.rec != "" && first.Rec != o.rec) {
		if err == io.EOF {
			err = nil
		}
		return nil, err
	}
	proto.Rec = first.Rec
	s := &screenSearch{match: o.match}
	var typed inputSearch
	var hits []hit
	add := func(t time.Duration, source, line string) {
		h := proto
		h.Offset, h.T, h.Sec, h.Source, h.Line = formatOffset(t), t, t.Seconds(), source, line
		hits = append(hits, h)
	}
	for ev, rerr := range r.Events() {
		if rerr != nil {
			err = rerr
			break
		}
		switch ev.Kind {
		case tlog.KindWindow:
			s.resize(ev.Cols, ev.Rows)
		case tlog.KindOut:
			for _, l := range s.write(ev.Data) {
				add(ev.T, "screen", l)
			}
		case tlog.KindIn:
			if o.input {
				for _, h := range typed.write(ev.T, ev.Data, o.match) {
					add(h.T, "input", h.Line)
				}
			}
		}
	}
	if h, ok := typed.finish(); ok {
		add(h.T, "input", h.Line)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].T < hits[j].T })
	return hits, err
}

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
	line    []rune
	esc     int // 0 outside an escape sequence, 1 after ESC, 2 in a CSI or SS3 sequence
	matched bool
	at      time.Duration
}

func (s *inputSearch) write(t time.Duration, p []byte, match func(string) bool) []hit {
	var hits []hit
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
			}
		}
		if !s.matched && len(s.line) > 0 && match(string(s.line)) {
			s.matched, s.at = true, t
		}
	}
	return hits
}

// finish ends the current line, returning it as a hit if it matched.
func (s *inputSearch) finish() (hit, bool) {
	h, ok := hit{T: s.at, Line: string(s.line)}, s.matched
	s.line, s.matched = s.line[:0], false
	return h, ok
}
