package commands

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// Report is what verifying one command log found.
type Report struct {
	Rec    string       `json:"rec"`
	State  verify.State `json:"-"`
	Name   string       `json:"state"`          // State's name
	Line   int          `json:"line,omitempty"` // 1-based line of the reported problem
	Detail string       `json:"detail,omitempty"`
	Execs  int          `json:"commands"`       // exec entries that parsed
	Ended  bool         `json:"ended"`          // an end entry was seen
	Lost   []string     `json:"lost,omitempty"` // the lost entries' texts, in order
	Keys   []string     `json:"keys,omitempty"` // key ids of the signatures
	Start  time.Time    `json:"start,omitzero"` // the recording's start, from the start entry

	// LinesState is the worst state of the lines themselves, the end not
	// looked for: OK for a log in progress that is sound so far.
	LinesState verify.State `json:"-"`

	signed    bool // some line is signed
	unsigned  int  // the first line without a signature
	reordered bool // seqs out of order: the end's count and place say nothing more
}

// note keeps s, at line, when it is worse than what was found so far.
func (r *Report) note(s verify.State, line int, format string, args ...any) {
	if s > r.State {
		r.State, r.Line, r.Detail = s, line, fmt.Sprintf(format, args...)
	}
}

// String is one line for people: "commands of REC: OK; 12 commands".
func (r *Report) String() string {
	s := fmt.Sprintf("commands of %s: %s", r.Rec, r.State)
	if r.State != verify.OK {
		s += fmt.Sprintf(" at line %d: %s", r.Line, r.Detail)
	}
	s += fmt.Sprintf("; %d commands", r.Execs)
	for _, l := range r.Lost {
		s += "; may be missing: " + l
	}
	return s
}

// Verify checks the command log of recording rec (rec/spec/commands.md §6)
// against the trusted keys and returns the entries that parse, in file
// order, whatever their state: the report says which line is the first
// wrong one.
func Verify(data []byte, rec string, trusted keys.Set) ([]Entry, Report) {
	entries, rep, _ := VerifyFrom(Chain{}, data, rec, trusted)
	return entries, rep
}

// Chain is where a log verified OK so far ends: what VerifyFrom needs to
// go on with the lines after it without reading it again (a collector
// receiving a log as it grows keeps it beside the bytes).
type Chain struct {
	Lines int    // complete lines
	Seq   uint64 // the last entry's
	Prev  string // SHA-256 of the last line
	Execs int    // exec entries
	Ended bool   // an end entry was seen
	Start time.Time
}

// VerifyFrom verifies data as the lines that follow c, and returns where
// the log then ends. Only a log whose lines so far are all OK and signed
// can be continued (Report.LinesState); the zero Chain is the start.
func VerifyFrom(c Chain, data []byte, rec string, trusted keys.Set) ([]Entry, Report, Chain) {
	rep := Report{Rec: rec, Execs: c.Execs, Ended: c.Ended, Start: c.Start, signed: c.Lines > 0}
	var entries []Entry
	prev, want, n := c.Prev, c.Seq+1, c.Lines
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			rep.note(verify.Truncated, n, "line %d is cut off (no newline): the writer stopped while writing it", n)
			break
		}
		line := data[:i+1]
		data = data[i+1:]
		hash := store.SHA256Hex(line)
		e, ok := checkLine(&rep, n, line, rec, trusted)
		switch {
		case !ok:
		case e.Seq < want:
			rep.note(verify.Reordered, n, "seq %d after seq %d", e.Seq, want-1)
			rep.reordered = true
		case e.Seq > want:
			rep.note(verify.Missing, n, "seq %d follows seq %d: %d entries missing", e.Seq, want-1, e.Seq-want)
			rep.reordered = true
		case e.Prev != prev:
			rep.note(verify.Modified, n, "prev does not match the line before: it was changed, removed or inserted")
		}
		if ok {
			want = e.Seq + 1
			checkEntry(&rep, n, &e)
			entries = append(entries, e)
		} else {
			want++
		}
		prev = hash
	}
	switch {
	case n == 0:
	case !rep.signed:
		rep.note(verify.Unsigned, 1, "no signature")
	case rep.unsigned > 0:
		rep.note(verify.Modified, rep.unsigned, "line %d is not signed, later lines are", rep.unsigned)
	}
	rep.LinesState = rep.State
	if n == 0 {
		rep.note(verify.Truncated, 0, "empty")
	} else if !rep.Ended {
		rep.note(verify.Truncated, n, "no end entry after seq %d: the recording is in progress, or the log was cut", want-1)
	}
	rep.Name = rep.State.String()
	return entries, rep, Chain{Lines: n, Seq: want - 1, Prev: prev, Execs: rep.Execs, Ended: rep.Ended, Start: rep.Start}
}

// checkLine parses and authenticates one line.
func checkLine(rep *Report, n int, line []byte, rec string, trusted keys.Set) (Entry, bool) {
	var e Entry
	s, err := store.ParseSigned(line)
	if err == nil {
		err = s.DecodeBody(&e, func() int { return e.V }, Version)
	}
	if err != nil {
		rep.note(verify.Modified, n, "%v", err)
		return e, false
	}
	var v store.Verdict
	s.Check(Domain, trusted, &v)
	if v.State != verify.Unsigned && !slices.Contains(rep.Keys, s.Key) {
		rep.Keys = append(rep.Keys, s.Key)
	}
	if v.State != verify.Unsigned {
		rep.signed = true
		rep.note(v.State, n, "%s", v.Detail)
	} else if rep.signed {
		rep.note(verify.Modified, n, "line %d is not signed, the lines before are", n)
	} else if rep.unsigned == 0 {
		rep.unsigned = n
	}
	if e.Rec != rec {
		rep.note(verify.Modified, n, "entry of recording %q in the log of %q", e.Rec, rec)
	}
	return e, true
}

// checkEntry checks what an entry's kind requires.
func checkEntry(rep *Report, n int, e *Entry) {
	if rep.Ended && !rep.reordered {
		rep.note(verify.Modified, n, "entry after the end entry")
	}
	if (n == 1) != (e.Kind == KindStart) {
		rep.note(verify.Modified, n, "a %s entry at line %d: only the first is start", e.Kind, n)
	}
	switch e.Kind {
	case KindStart:
		rep.Start = e.Start
	case KindExec:
		if e.Cmd == nil {
			rep.note(verify.Modified, n, "exec entry without cmd")
		}
		rep.Execs++
	case KindLost:
		rep.Lost = append(rep.Lost, e.Lost)
	case KindEnd:
		rep.Ended = true
		if e.Count == nil || (*e.Count != uint64(rep.Execs) && !rep.reordered) {
			rep.note(verify.Modified, n, "end entry counts other than the %d commands before it", rep.Execs)
		}
	default:
		rep.note(verify.Modified, n, "unknown kind %q", e.Kind)
	}
}

// ReadFile reads and verifies the command log of recording rec in recDir.
// The error is for a log that cannot be read (fs.ErrNotExist when the
// recording has none).
func ReadFile(recDir, rec string, trusted keys.Set) ([]Entry, Report, error) {
	path, err := Path(recDir, rec)
	if err != nil {
		return nil, Report{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Report{}, err
	}
	entries, rep := Verify(data, rec, trusted)
	return entries, rep, nil
}
