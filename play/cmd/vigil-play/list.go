package main

import (
	"bufio"
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
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/retention"
	"github.com/vigil-rec/vigil/rec/verify"
)

// defaultRecDir is where vigil-rec writes per-recording files by default.
const defaultRecDir = "/var/log/vigil"

// listing is one recording in the output of list.
type listing struct {
	File     string    `json:"file"`
	Rec      string    `json:"rec"`
	Start    time.Time `json:"-"`
	Duration float64   `json:"duration"` // seconds
	User     string    `json:"user"`
	Host     string    `json:"host"`
	Term     string    `json:"term"`
	Size     int64     `json:"size"` // bytes of the recording's messages
	State    string    `json:"state"`
	Detail   string    `json:"detail,omitempty"`
	// Hold is the legal hold on the recording (vigilctl hold), if any.
	Hold *retention.Hold `json:"hold,omitempty"`
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
		Long: `List the recordings in each DIR (its *.jsonl files; default ` + defaultRecDir + `) or FILE,
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
				args = []string{defaultRecDir}
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
	files, missing, err := recordingFiles(args, stderr)
	if err != nil {
		return nil, status, err
	}
	if missing {
		status = exitUsageErr
	}
	cache := openListCache(trusted)
	cache.reread = o.noCache
	results := summarize(files, cache, trusted, bar)
	if err := cache.save(); err != nil {
		warn(stderr, "cannot cache the list: %v", err)
	}
	return results, status, nil
}

// holdsOf returns the holds on the recordings of a directory, reading each
// directory's holds once; a hold file that cannot be read is reported and
// the others still count.
func holdsOf(stderr io.Writer) func(dir string) retention.Holds {
	seen := map[string]retention.Holds{}
	return func(dir string) retention.Holds {
		h, ok := seen[dir]
		if !ok {
			var err error
			h, err = retention.LoadHolds(retention.HoldsDir(dir))
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

// listFile describes the recordings in one file.
func listFile(path string, trusted keys.Set) ([]listing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return describe(path, f, fi.Size(), trusted)
}

// recordingData is a file, or a recording's messages in memory.
type recordingData interface {
	io.ReadSeeker
	io.ReaderAt
}

// describe describes the recordings in f, of size bytes, named path. The
// integrity state needs all of it (verify); the metadata comes from the
// first and last message, except where several recordings share f, which
// is scanned.
func describe(path string, f recordingData, size int64, trusted keys.Set) ([]listing, error) {
	reports, err := verify.Recordings(f, trusted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(reports) == 0 {
		return []listing{{File: path, State: "EMPTY", Size: size, Detail: "no messages"}}, nil
	}
	if len(reports) == 1 {
		l := listing{File: path, Size: size}
		setState(&l, reports[0])
		first, err := firstMessage(f, path)
		if err != nil {
			return nil, err
		}
		last, err := lastMessage(f, size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if first != nil {
			l.describe(first, last)
		}
		return []listing{l}, nil
	}
	return scanFile(f, path, reports)
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
	return describe(j.Name(), bytes.NewReader(data), int64(len(data)), trusted)
}

// fileListings is what list found in one file.
type fileListings struct {
	listings []listing
	err      error
}

// summarize lists every file: from the cache when the file did not change,
// else by reading and verifying it, several files at once. The progress
// bar counts the bytes of the files read.
func summarize(files []string, cache *listCache, trusted keys.Set, bar *progressBar) []fileListings {
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
		if ls, ok := cache.get(path, fi); ok {
			out[i].listings = ls
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
				ls, err := listFile(files[j.i], trusted)
				mu.Lock()
				out[j.i] = fileListings{ls, err}
				if err == nil {
					// The size and times from before reading: if the
					// file changed meanwhile, the next run reads it again.
					cache.put(files[j.i], j.fi, ls)
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

func setState(l *listing, r verify.Report) {
	l.Rec, l.State = r.Rec, r.State.String()
	if r.State != verify.OK {
		l.Detail = r.Detail
	}
}

// describe fills in the metadata from a recording's first and last message
// (last may be nil when it is the first).
func (l *listing) describe(first, last *reader.Message) {
	l.User, l.Host, l.Term = first.User, first.Host, first.Term
	if l.Rec == "" {
		l.Rec = first.Rec
	}
	if !first.Time.IsZero() {
		// time is the wall clock at the message's pos; the recording
		// starts pos earlier.
		l.Start = first.Time.Add(-first.Pos)
	}
	if last == nil {
		last = first
	}
	l.Duration = endOf(last).Seconds()
}

// endOf is the time of a message's last packet.
func endOf(m *reader.Message) time.Duration {
	end := m.Pos
	if n := len(m.Events); n > 0 {
		end = m.Events[n-1].T
	}
	return end
}

// firstMessage returns the first message that decodes, nil if none does.
func firstMessage(f io.ReadSeeker, path string) (*reader.Message, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r := reader.New(f, path, reader.Options{Lax: true})
	m, err := r.Next()
	if err == io.EOF {
		return nil, nil
	}
	return m, err
}

// lastMessage returns the last message that decodes, searching backwards
// from the end in growing blocks (a truncated last line is passed over).
func lastMessage(f io.ReaderAt, size int64) (*reader.Message, error) {
	for block := int64(64 << 10); ; block *= 8 {
		off := max(size-block, 0)
		buf := make([]byte, size-off)
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return nil, err
		}
		lines := bytes.Split(buf, []byte("\n"))
		if off > 0 {
			lines = lines[1:] // starts mid-line
		}
		for i := len(lines) - 1; i >= 0; i-- {
			if len(bytes.TrimSpace(lines[i])) == 0 {
				continue
			}
			if m, err := reader.ParseLine(lines[i]); err == nil {
				return m, nil
			}
		}
		if off == 0 || block >= reader.DefaultMaxLine {
			return nil, nil
		}
	}
}

// scanFile reads a file holding several recordings, collecting each one's
// first and last message and size.
func scanFile(f io.ReadSeeker, path string, reports []verify.Report) ([]listing, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	type acc struct {
		first, last *reader.Message
		size        int64
	}
	recs := map[string]*acc{}
	br := bufio.NewReaderSize(f, 256<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if m, perr := reader.ParseLine(line); perr == nil {
				a := recs[m.Rec]
				if a == nil {
					a = &acc{first: m}
					recs[m.Rec] = a
				}
				a.last = m
				a.size += int64(len(line))
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	out := make([]listing, 0, len(reports))
	for _, r := range reports {
		l := listing{File: path}
		setState(&l, r)
		if a := recs[r.Rec]; a != nil {
			l.Size = a.size
			l.describe(a.first, a.last)
		}
		out = append(out, l)
	}
	return out, nil
}
