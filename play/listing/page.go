package listing

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/rec/store"
)

// Page is a part of list's order: Limit rows (0: all) after the first
// Offset, oldest first or, with Reverse, newest first.
type Page struct {
	Reverse       bool
	Offset, Limit int
}

// Cut puts rows in p's order and returns p's part of them.
func (p Page) Cut(rows []Row) []Row {
	Sort(rows)
	if p.Reverse {
		slices.Reverse(rows)
	}
	rows = rows[min(p.Offset, len(rows)):]
	if p.Limit > 0 && len(rows) > p.Limit {
		rows = rows[:p.Limit]
	}
	return rows
}

// Collect returns the rows of results that match selects (match may
// change them: Holds.Mark), in p's order and part, and the errors of the
// files that could not be read.
func Collect(results []Result, match func(*Row) bool, p Page) ([]Row, []error) {
	rows, errs := collect(results, match, nil)
	return p.Cut(rows), errs
}

// collect is Collect unordered, and without the rows that keep is false
// for (nil: none).
func collect(results []Result, match func(*Row) bool, keep func(*Row) bool) ([]Row, []error) {
	var rows []Row
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
			continue
		}
		for i := range r.Rows {
			if match(&r.Rows[i]) && (keep == nil || keep(&r.Rows[i])) {
				rows = append(rows, r.Rows[i])
			}
		}
	}
	return rows, errs
}

// nameSlack is how much later than the time in its file's name a
// recording can start: the file writer takes that time when it opens
// the file, and the recorder the start when it starts the command,
// moments later (rec/cmd/vigil-rec, vigil-rec-session).
const nameSlack = time.Minute

// anyTime is a start time later than any recording's.
var anyTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// List returns the rows of files that match selects (see Collect), at p's
// place in list's order. With a limit it reads only what it must, and
// verifies only the files of the rows it returns: first it peeks at the
// files (store.Peek, or the cache), newest first by what their names or
// modification times say when p is Reverse, until the rows found are
// sure to be the page's; then it reads those files as Files does. The
// errors are those of the files it read.
func (l *Lister) List(files []string, match func(*Row) bool, p Page) ([]Row, []error) {
	if p.Limit == 0 {
		return Collect(l.Files(files), match, p)
	}
	cands := make([]candidate, len(files))
	for i, f := range files {
		cands[i].path = f
	}
	if p.Reverse {
		byLatestStart(cands)
	}
	want := Page{Reverse: p.Reverse, Limit: p.Offset + p.Limit}
	var top []Row // the first want.Limit rows found so far, in p's order
	// Only rows before top's last can take a place in it.
	keep := func(r *Row) bool { return len(top) < want.Limit || want.before(r, &top[len(top)-1]) }
	var errs []error
	// Files are peeked at in batches, each file of a batch at once: first
	// as many as the rows wanted, which can be enough, then twice as many
	// each time.
	batch := max(want.Limit, 16)
	for i := 0; i < len(cands); batch *= 2 {
		n := min(batch, len(cands)-i)
		rows, e := collect(l.peek(cands[i:i+n]), match, keep)
		i += n
		errs = append(errs, e...)
		top = want.Cut(append(top, rows...))
		// The files left hold no recording started after their latest
		// start: once that is before the last row's, none of theirs
		// comes before it (a row without a start comes last: never).
		if p.Reverse && len(top) == want.Limit && i < len(cands) && cands[i].latest.Before(top[len(top)-1].Start) {
			break
		}
	}
	// The files the page shows that were only peeked at are read now;
	// each was one recording, one row.
	unread := map[string]bool{}
	for _, r := range top[min(p.Offset, len(top)):] {
		if r.State == store.Unverified {
			unread[r.File] = true
		}
	}
	read, e := collect(l.Files(slices.Collect(maps.Keys(unread))), match, nil)
	errs = append(errs, e...)
	top = slices.DeleteFunc(top, func(r Row) bool { return unread[r.File] })
	return p.Cut(append(top, read...)), errs
}

// before tells whether a comes before b in p's order.
func (p Page) before(a, b *Row) bool {
	if p.Reverse {
		return compareRows(b, a) < 0
	}
	return compareRows(a, b) < 0
}

// candidate is a file List may read, and the latest start a recording in
// it can have (when List needs it).
type candidate struct {
	path   string
	latest time.Time
}

// byLatestStart sets each candidate's latest start and orders them by it,
// latest first (then by name, as list orders rows of the same start): the
// time in the name the file writer gave the file, else its modification
// time (a recording's messages are written after it started); a file that
// cannot be stat'ed comes first, to report its error.
func byLatestStart(cands []candidate) {
	for i := range cands {
		c := &cands[i]
		if at, ok := store.NameStart(filepath.Base(c.path)); ok {
			c.latest = at.Add(time.Second + nameSlack)
		} else if fi, err := os.Stat(c.path); err == nil {
			c.latest = fi.ModTime()
		} else {
			c.latest = anyTime
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := b.latest.Compare(a.latest); c != 0 {
			return c
		}
		return strings.Compare(b.path, a.path)
	})
}

// peek describes each file as Files does, but a file the cache does not
// know that holds one recording (oneRecording) only by Peek, which reads
// a few blocks of it: enough to place its row in the list.
func (l *Lister) peek(files []candidate) []Result {
	out := make([]Result, len(files))
	var mu sync.Mutex // l.Cache's, and rest's
	var rest []int    // the files to read as Files does
	parallel(len(files), func(i int) {
		path := files[i].path
		mu.Lock()
		known := l.Cache.Has(path)
		mu.Unlock()
		if known {
			fi, err := os.Stat(path)
			if err != nil {
				out[i].Err = err
				return
			}
			mu.Lock()
			ss, cached := l.Cache.Get(path, fi)
			mu.Unlock()
			if cached {
				out[i].Rows = rowsOf(path, fi.Size(), ss)
				return
			}
		}
		if oneRecording(path) {
			if s, ok, err := store.Peek(path); err != nil || ok {
				out[i] = Result{[]Row{{Summary: s}}, err}
				return
			}
		}
		mu.Lock()
		rest = append(rest, i)
		mu.Unlock()
	})
	paths := make([]string, len(rest))
	for k, i := range rest {
		paths[k] = files[i].path
	}
	for k, r := range l.Files(paths) {
		out[rest[k]] = r
	}
	return out
}
