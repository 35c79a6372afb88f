// Package search finds the moments where a text was shown on screen or
// typed in a recording, as `vigil-play search` reports them: the output is
// played into a terminal screen (play/screen) and each screen line is
// matched as it changes; typed lines are rebuilt from the input.
package search

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"regexp/syntax"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Compile returns the matcher of pattern: lines that contain it, or with
// regex, lines that match it as a Go regular expression (RE2 syntax).
func Compile(pattern string, regex bool) (func(string) bool, error) {
	if !regex {
		return func(s string) bool { return strings.Contains(s, pattern) }, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return re.MatchString, nil
}

// Literal returns a text that every line pattern matches (Compile)
// contains: the pattern itself, or the longest run of plain characters a
// regular expression requires; "" when there is none to tell.
func Literal(pattern string, regex bool) string {
	if !regex {
		return pattern
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	return literal(re.Simplify())
}

func literal(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return literal(re.Sub[0])
	case syntax.OpConcat:
		// Adjacent literals make one run; the longest of the runs and of
		// what the other parts require wins.
		best, run := "", ""
		for _, sub := range re.Sub {
			if l := literal(sub); sub.Op == syntax.OpLiteral && l != "" {
				run += l
			} else {
				run = ""
				if len(l) > len(best) {
					best = l
				}
			}
			if len(run) > len(best) {
				best = run
			}
		}
		return best
	}
	return ""
}

// Options say what to search for, and in which recordings.
type Options struct {
	Match func(string) bool // the lines to find (Compile)
	Input bool              // search the typed input too, when it was recorded
	User  string            // only recordings of this user, when not empty
	Rec   string            // only the recording with this id, when not empty
	// MaxHits ends the search of a recording after that many hits (0: no
	// limit), with ErrTooManyHits and the hits so far: a server must not
	// hold a million hits of one recording in memory.
	MaxHits int
}

// ErrTooManyHits ends the search of a recording that has more than
// Options.MaxHits hits.
var ErrTooManyHits = errors.New("too many hits")

// Hit is one moment where a line matched. Its JSON is a line of
// search --json.
type Hit struct {
	Name   string        `json:"-"`    // the recording as play takes it: FILE, "FILE -m REC" or "-r journal REC"
	File   string        `json:"file"` // "" for the journal
	Rec    string        `json:"rec"`
	Offset string        `json:"offset"` // the time into the recording as HH:MM:SS.mmm, which play --goto takes
	t      time.Duration // the same, for sorting
	Sec    float64       `json:"seconds"`
	Source string        `json:"source"` // "screen", "input" or "command" (play/cmdtimeline)
	Line   string        `json:"line"`   // for a command, its argv quoted as a shell reads it back
}

// NewHit is a hit found elsewhere (a collector's search), named name as
// play takes it.
func NewHit(name, file, rec string, sec float64, source, line string) Hit {
	t := time.Duration(math.Round(sec * float64(time.Second)))
	return Hit{Name: name, File: file, Rec: rec, Offset: FormatOffset(t), t: t, Sec: sec, Source: source, Line: line}
}

// Print writes hits as search does: "RECORDING  +OFFSET  LINE" (typed
// lines start with "(typed) ", commands with "(command) ") made safe for a
// terminal (play/safetext), or one JSON object per hit and line.
func Print(w io.Writer, hits []Hit, asJSON bool) error {
	for _, h := range hits {
		var err error
		if asJSON {
			var b []byte
			if b, err = safetext.AppendJSON(nil, h); err == nil {
				_, err = w.Write(b)
			}
		} else {
			line := h.Line
			switch h.Source {
			case "input":
				line = "(typed) " + line
			case "command":
				line = "(command) " + line
			}
			_, err = fmt.Fprintf(w, "%s  +%s  %s\n", safetext.Printable(h.Name), h.Offset, safetext.Printable(line))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// FormatOffset formats d as HH:MM:SS.mmm, which --goto accepts.
func FormatOffset(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

// File returns the hits in the recordings of one file, each in time
// order, and the read error that ended one early, if any (with the hits
// before it). A file holding several recordings (tlog's single-file
// layout) is searched recording by recording.
func File(path string, o Options) ([]Hit, error) {
	recs, err := FileRecordings(path)
	if err != nil {
		return nil, err
	}
	if len(recs) <= 1 {
		r, err := reader.Open(path, reader.Options{Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return searchReader(r, Hit{Name: path, File: path}, o)
	}
	var hits []Hit
	for _, rec := range recs {
		if o.Rec != "" && rec != o.Rec {
			continue
		}
		r, err := reader.Open(path, reader.Options{Rec: rec, Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			return hits, err
		}
		h, err := searchReader(r, Hit{Name: path + " -m " + rec, File: path}, o)
		r.Close()
		hits = append(hits, h...)
		if err != nil {
			return hits, err
		}
	}
	return hits, nil
}

// FileRecordings returns the recording ids in a file's lines in the order
// they first come.
func FileRecordings(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := RecordingIDs(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// RecordingIDs returns the recording ids in the lines r reads, in the
// order they first come: those a search of each (Stream) reads.
func RecordingIDs(r io.Reader) ([]string, error) {
	var recs []string
	seen := map[string]bool{}
	br := bufio.NewReaderSize(r, 256<<10)
	for cont := false; ; {
		line, err := br.ReadSlice('\n')
		if rec, ok := tlog.GuessRec(line); ok && !cont && !seen[rec] {
			seen[rec] = true
			recs = append(recs, rec)
		}
		cont = err == bufio.ErrBufferFull // the rest of a long line comes next
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return recs, nil
		default:
			return nil, err
		}
	}
}

// Journal returns the hits in recording rec of the systemd journal, in
// time order, and the read error that ended it early, if any (with the
// hits before it).
func Journal(rec string, o Options) ([]Hit, error) {
	j, err := player.OpenJournal(rec)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	r := reader.New(j, j.Name(), reader.Options{Rec: rec, Workers: runtime.GOMAXPROCS(0)})
	defer r.Close()
	return searchReader(r, Hit{Name: "-r journal " + rec}, o)
}

// Stream returns the hits in recording rec ("" for any) of the tlog lines
// read from src, named name as play takes it, in time order, and the read
// error that ended it early, if any (with the hits before it).
func Stream(src io.Reader, name, rec string, o Options) ([]Hit, error) {
	r := reader.New(src, name, reader.Options{Rec: rec, Workers: runtime.GOMAXPROCS(0)})
	defer r.Close()
	return searchReader(r, Hit{Name: name, File: name}, o)
}

// searchReader returns the hits in the recording r reads, in time order,
// named as in proto, and the read error that ended it early, if any (with
// the hits before it).
func searchReader(r *reader.Reader, proto Hit, o Options) ([]Hit, error) {
	first, err := r.Peek()
	if first == nil || (o.User != "" && first.User != o.User) || (o.Rec != "" && first.Rec != o.Rec) {
		if err == io.EOF {
			err = nil
		}
		return nil, err
	}
	proto.Rec = first.Rec
	s := &screenSearch{match: o.Match}
	var typed inputSearch
	var hits []Hit
	add := func(t time.Duration, source, line string) {
		h := proto
		h.Offset, h.t, h.Sec, h.Source, h.Line = FormatOffset(t), t, tlog.Seconds(t), source, line
		hits = append(hits, h)
	}
	full := func() bool { return o.MaxHits > 0 && len(hits) > o.MaxHits }
	cut := func() {
		hits = hits[:o.MaxHits]
		err = fmt.Errorf("%w: more than %d in this recording (narrow the search)", ErrTooManyHits, o.MaxHits)
	}
	for ev, rerr := range r.Events() {
		if rerr != nil {
			err = rerr
			break
		}
		if full() {
			cut()
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
			if o.Input {
				for _, h := range typed.write(ev.T, ev.Data, o.Match) {
					add(h.t, "input", h.Line)
				}
			}
		}
	}
	if h, ok := typed.finish(); ok {
		add(h.t, "input", h.Line)
	}
	if full() {
		cut()
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].t < hits[j].t })
	return hits, err
}
