package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// listing is one recording in the output of list: its summary, and the
// hold on it.
type listing struct {
	store.Summary
	// Hold is the legal hold on the recording (vigilctl hold), if any.
	Hold *store.Hold `json:"hold,omitempty"`
	// StartJSON is Start in RFC 3339, null when unknown (format 2.2 has no
	// wall-clock time).
	StartJSON *string `json:"start"`
}

type listFilter struct {
	user, host, rec string
	since, until    time.Time
	held            bool
}

func (f listFilter) match(l *listing) bool {
	switch {
	case f.user != "" && l.User != f.user, f.host != "" && l.Host != f.host, f.rec != "" && l.Rec != f.rec,
		f.held && l.Hold == nil:
		return false
	case (!f.since.IsZero() || !f.until.IsZero()) && l.Start.IsZero():
		return false
	case !f.since.IsZero() && l.Start.Add(time.Duration(l.Duration*float64(time.Second))).Before(f.since):
		return false
	case !f.until.IsZero() && l.Start.After(f.until):
		return false
	}
	return true
}

func listCmd() *cobra.Command {
	var (
		f            listFilter
		since, until string
		o            listOptions
		keyPaths     []string
	)
	cmd := &cobra.Command{
		Use:   "list [DIR|FILE...|--reader journal] [--user U] [--host H] [--since T] [--until T] [--rec R] [--json]",
		Short: "List recordings with their time, user, host and integrity state",
		Long: `List the recordings in each DIR (its *.jsonl files; default ` + store.DefaultDir + `) or FILE,
one line per recording, oldest first: start (local time), duration, user, host,
terminal, size, integrity state (as "verify" reports it), HELD when a legal hold
(vigilctl hold, in the directory's holds/) keeps it from purging, recording id
and file.
A file holding several recordings (tlog's single-file layout) gives one line each.
With --reader journal, the recordings in the systemd journal are listed instead
(each TLOG_REC value; FILE is then journal:TLOG_REC=ID).

--since and --until select the recordings that overlap the time range; T is
"2006-01-02", "2006-01-02 15:04[:05]", RFC 3339, or @UNIXSECONDS. Recordings
without wall-clock times (format 2.2) never match a time filter.

Every file is read and verified once: what list found is cached (in
$XDG_CACHE_HOME/vigil-play/list.cache, or ~/.cache) for as long as the file
stays the same (path, inode, size, modification and change times) and the
trusted keys too. A first run over many files shows its progress on standard
error when that is a terminal.

Exit status: 0 listed (whatever the recordings' states), 2 usage error or a
directory, file or key could not be read.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if f.since, err = parseWhen(since); err != nil {
				return &exitError{exitUsageErr, fmt.Errorf("--since: %w", err)}
			}
			if f.until, err = parseWhen(until); err != nil {
				return &exitError{exitUsageErr, fmt.Errorf("--until: %w", err)}
			}
			trusted, err := trustedKeys(keyPaths, cmd.ErrOrStderr())
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			switch {
			case o.source != "file" && o.source != "journal":
				return &exitError{exitUsageErr, fmt.Errorf("--reader must be file or journal, not %q", o.source)}
			case o.source == "journal" && len(args) > 0:
				return &exitError{exitUsageErr, errors.New("--reader journal lists the journal: no DIR or FILE")}
			case len(args) == 0:
				args = []string{store.DefaultDir}
			}
			return runList(cmd, args, f, trusted, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "only recordings of user `U`")
	fl.StringVar(&f.host, "host", "", "only recordings made on host `H`")
	fl.StringVar(&f.rec, "rec", "", "only the recording with id `R`")
	fl.StringVar(&since, "since", "", "only recordings active at or after `T`")
	fl.StringVar(&until, "until", "", "only recordings active at or before `T`")
	fl.BoolVar(&f.held, "held", false, "only recordings under a legal hold")
	fl.BoolVar(&o.asJSON, "json", false, "print one JSON object per recording and line")
	fl.BoolVar(&o.noCache, "no-cache", false, "read and verify every file again, ignoring what list found before")
	fl.StringVarP(&o.source, "reader", "r", "file", "read from `READER`: file, or journal (the recordings in the systemd journal)")
	addKeyFlag(cmd, &keyPaths)
	return cmd
}

// parseWhen parses a --since/--until time in the local time zone.
func parseWhen(s string) (time.Time, error) {
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

// listOptions are list's flags other than the filters.
type listOptions struct {
	asJSON, noCache bool
	source          string // "file" or "journal"
}

func runList(cmd *cobra.Command, args []string, f listFilter, trusted keys.Set, o listOptions) error {
	stderr := cmd.ErrOrStderr()
	results, status, err := listSources(stderr, args, trusted, o)
	if err != nil {
		return &exitError{exitUsageErr, err}
	}
	var all []listing
	holds := holdsOf(stderr)
	for _, r := range results {
		if r.err != nil {
			warn(stderr, "%v", r.err)
			status = exitUsageErr
			continue
		}
		for i := range r.listings {
			l := &r.listings[i]
			if o.source == "file" {
				if h, ok := holds(filepath.Dir(l.File)).Held(l.Rec); ok {
					l.Hold = &h
				}
			}
			if f.match(l) {
				all = append(all, *l)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Start.Equal(all[j].Start) {
			return all[i].Start.Before(all[j].Start)
		}
		return all[i].File < all[j].File
	})
	if err := printListing(cmd.OutOrStdout(), all, o.asJSON); err != nil {
		return &exitError{exitUsageErr, err}
	}
	if status != exitOK {
		return &exitError{code: status}
	}
	return nil
}

// listSources describes the recordings of the files and directories in
// args, or of the journal. Arguments that cannot be read make the status
// exitUsageErr.
func listSources(stderr io.Writer, args []string, trusted keys.Set, o listOptions) ([]fileListings, int, error) {
	bar := newProgressBar(stderr, "verifying recordings")
	if o.source == "journal" {
		results, err := summarizeJournal(trusted, bar)
		return results, exitOK, err
	}
	status := exitOK
	files, missing := recordingFiles(args, stderr)
	if missing {
		status = exitUsageErr
	}
	cache := store.OpenCache(trusted)
	cache.Reread = o.noCache
	results := summarize(files, cache, trusted, bar)
	if err := cache.Save(); err != nil {
		warn(stderr, "cannot cache the list: %v", err)
	}
	return results, status, nil
}

// holdsOf returns the holds on the recordings of a directory, reading each
// directory's holds once; a hold file that cannot be read is reported and
// the others still count.
func holdsOf(stderr io.Writer) func(dir string) store.Holds {
	seen := map[string]store.Holds{}
	return func(dir string) store.Holds {
		h, ok := seen[dir]
		if !ok {
			var err error
			h, err = store.LoadHolds(store.HoldsDir(dir))
			if err != nil {
				warn(stderr, "%v", err)
			}
			seen[dir] = h
		}
		return h
	}
}

func printListing(w io.Writer, all []listing, asJSON bool) error {
	if asJSON {
		var b []byte
		for i := range all {
			if !all[i].Start.IsZero() {
				s := all[i].Start.Format(time.RFC3339Nano)
				all[i].StartJSON = &s
			}
			var err error
			if b, err = appendJSON(b[:0], &all[i]); err != nil {
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
	for _, l := range all {
		start := "-"
		if !l.Start.IsZero() {
			start = l.Start.Local().Format("2006-01-02 15:04:05")
		}
		held := "-"
		if l.Hold != nil {
			held = "HELD"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", start, formatDuration(l.Duration),
			dash(l.User), dash(l.Host), dash(l.Term), formatSize(l.Size), l.State, held, dash(l.Rec), printable(l.File))
	}
	return tw.Flush()
}

// dash is a field of a recording as printed: "-" if empty, else printable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
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

// summarizeJournal lists the recordings in the journal, read one by one.
func summarizeJournal(trusted keys.Set, bar *progressBar) ([]fileListings, error) {
	recs, err := player.JournalRecordings()
	if err != nil {
		return nil, err
	}
	out := make([]fileListings, len(recs))
	for i, rec := range recs {
		out[i].listings, out[i].err = listJournal(rec, trusted)
		bar.update(int64(i+1), int64(len(recs)))
	}
	bar.clear()
	return out, nil
}

// listJournal describes recording rec of the journal.
func listJournal(rec string, trusted keys.Set) ([]listing, error) {
	j, err := player.OpenJournal(rec)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	data, err := io.ReadAll(j)
	if err != nil {
		return nil, err
	}
	ss, err := store.Summarize(bytes.NewReader(data), j.Name(), int64(len(data)), trusted, nil)
	return listings(j.Name(), int64(len(data)), ss), err
}

// listings are the lines of list for the summaries of a file of size
// bytes: one per recording, or an EMPTY line when it has none.
func listings(path string, size int64, ss []store.Summary) []listing {
	if len(ss) == 0 {
		return []listing{{Summary: store.Summary{File: path, State: "EMPTY", Size: size, Detail: "no messages"}}}
	}
	ls := make([]listing, len(ss))
	for i := range ss {
		ls[i].Summary = ss[i]
	}
	return ls
}

// fileListings is what list found in one file.
type fileListings struct {
	listings []listing
	err      error
}

// summarize lists every file: from the cache when the file did not change,
// else by reading and verifying it, several files at once. The progress
// bar counts the bytes of the files read.
func summarize(files []string, cache *store.Cache, trusted keys.Set, bar *progressBar) []fileListings {
	out := make([]fileListings, len(files))
	type job struct {
		i  int
		fi os.FileInfo
	}
	var jobs []job
	var total int64
	for i, path := range files {
		fi, err := os.Stat(path)
		if err != nil {
			out[i].err = err
			continue
		}
		if ss, ok := cache.Get(path, fi); ok {
			out[i].listings = listings(path, fi.Size(), ss)
			continue
		}
		jobs = append(jobs, job{i, fi})
		total += fi.Size()
	}
	ch := make(chan job)
	var mu sync.Mutex
	var done int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for j := range ch {
				ss, err := store.Describe(files[j.i], trusted)
				mu.Lock()
				out[j.i] = fileListings{listings(files[j.i], j.fi.Size(), ss), err}
				if err == nil {
					cache.Put(files[j.i], j.fi, ss)
				}
				done += j.fi.Size()
				bar.update(done, total)
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	bar.clear()
	return out
}
