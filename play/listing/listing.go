// Package listing makes the rows of `vigil-play list`: one per recording,
// with its summary (rec/store) and legal hold, read from files through the
// list cache or from the journal, filtered, sorted and printed as a table
// or as JSON.
package listing

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/rec/store"
)

// Row is one recording in the output of list: its summary, and the hold
// on it. Its JSON is a line of list --json.
type Row struct {
	store.Summary
	// Hold is the legal hold on the recording (vigilctl hold), if any.
	Hold *store.Hold `json:"hold,omitempty"`
	// StartJSON is Start in RFC 3339, null when unknown (format 2.2 has no
	// wall-clock time); Print sets it.
	StartJSON *string `json:"start"`
}

// Filter selects rows; its zero value selects all.
type Filter struct {
	User, Host, Rec string // the recording's, when not empty
	// Since and Until, when not zero, select the recordings active at or
	// after Since and at or before Until; recordings without wall-clock
	// times (format 2.2) never match them.
	Since, Until time.Time
	Held         bool // only recordings under a legal hold
}

// Match reports whether f selects r.
func (f Filter) Match(r *Row) bool {
	switch {
	case f.User != "" && r.User != f.User, f.Host != "" && r.Host != f.Host, f.Rec != "" && r.Rec != f.Rec,
		f.Held && r.Hold == nil:
		return false
	case (!f.Since.IsZero() || !f.Until.IsZero()) && r.Start.IsZero():
		return false
	case !f.Since.IsZero() && r.Start.Add(time.Duration(r.Duration*float64(time.Second))).Before(f.Since):
		return false
	case !f.Until.IsZero() && r.Start.After(f.Until):
		return false
	}
	return true
}

// ParseWhen parses a time of Filter.Since or Until as the auditor writes
// it, in the local time zone: "2006-01-02", "2006-01-02 15:04[:05]",
// RFC 3339 or @UNIXSECONDS. "" is the zero time.
func ParseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: not @UNIXSECONDS", s)
		}
		return time.Unix(n, 0), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want 2006-01-02, 2006-01-02 15:04[:05], RFC 3339 or @UNIXSECONDS", s)
}

// Holds finds the legal holds on recordings in files, reading the holds of
// each directory once. Its zero value is ready to use.
type Holds struct {
	// OnError, if not nil, is told of hold files that cannot be read; the
	// other holds still count.
	OnError func(error)
	dirs    map[string]store.Holds
}

// Mark sets r.Hold to the hold on r's recording, if there is one in the
// holds of r.File's directory.
func (h *Holds) Mark(r *Row) {
	dir := filepath.Dir(r.File)
	holds, ok := h.dirs[dir]
	if !ok {
		var err error
		if holds, err = store.LoadHolds(store.HoldsDir(dir)); err != nil && h.OnError != nil {
			h.OnError(err)
		}
		if h.dirs == nil {
			h.dirs = map[string]store.Holds{}
		}
		h.dirs[dir] = holds
	}
	if hold, ok := holds.Held(r.Rec); ok {
		r.Hold = &hold
	}
}

// Sort puts rows in list's order: oldest first (unknown start times
// first), then by file.
func Sort(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int { return compareRows(&a, &b) })
}

// compareRows compares rows in list's order.
func compareRows(a, b *Row) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return strings.Compare(a.File, b.File)
}

// Print writes rows as list's table, or as one JSON object per row and
// line; what comes from recordings is made safe for a terminal
// (play/safetext).
func Print(w io.Writer, rows []Row, asJSON bool) error {
	if asJSON {
		var b []byte
		for i := range rows {
			if !rows[i].Start.IsZero() {
				s := rows[i].Start.Format(time.RFC3339Nano)
				rows[i].StartJSON = &s
			}
			var err error
			if b, err = safetext.AppendJSON(b[:0], &rows[i]); err != nil {
				return err
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tDURATION\tUSER\tHOST\tTERM\tSIZE\tSTATE\tHELD\tREC\tFILE")
	for _, r := range rows {
		start := "-"
		if !r.Start.IsZero() {
			start = r.Start.Local().Format("2006-01-02 15:04:05")
		}
		held := "-"
		if r.Hold != nil {
			held = "HELD"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", start, formatDuration(r.Duration),
			dash(r.User), dash(r.Host), dash(r.Term), formatSize(r.Size), r.State, held, dash(r.Rec), safetext.Printable(r.File))
	}
	return tw.Flush()
}

// dash is a field of a recording as printed: "-" if empty, else printable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return safetext.Printable(s)
}

func formatDuration(sec float64) string {
	s := int64(sec)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, suffix := float64(n), ""
	for _, s := range []string{"K", "M", "G", "T"} {
		v /= unit
		suffix = s
		if v < unit {
			break
		}
	}
	return fmt.Sprintf("%.1f%s", v, suffix)
}
