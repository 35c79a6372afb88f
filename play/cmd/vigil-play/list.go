package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/rec/keys"
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
	// StartJSON is Start in RFC 3339, null when unknown (format 2.2 has no
	// wall-clock time).
	StartJSON *string `json:"start"`
}

type listFilter struct {
	user, host, rec string
	since, until    time.Time
}

func (f listFilter) match(l *listing) bool {
	switch {
	case f.user != "" && l.User != f.user, f.host != "" && l.Host != f.host, f.rec != "" && l.Rec != f.rec:
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
		asJSON       bool
		keyPaths     []string
	)
	cmd := &cobra.Command{
		Use:   "list [DIR|FILE...] [--user U] [--host H] [--since T] [--until T] [--rec R] [--json]",
		Short: "List recordings with their time, user, host and integrity state",
		Long: `List the recordings in each DIR (its *.jsonl files; default ` + defaultRecDir + `) or FILE,
one line per recording, oldest first: start (local time), duration, user, host,
terminal, size, integrity state (as "verify" reports it), recording id and file.
A file holding several recordings (tlog's single-file layout) gives one line each.

--since and --until select the recordings that overlap the time range; T is
"2006-01-02", "2006-01-02 15:04[:05]", RFC 3339, or @UNIXSECONDS. Recordings
without wall-clock times (format 2.2) never match a time filter.

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
			if len(args) == 0 {
				args = []string{defaultRecDir}
			}
			return runList(cmd, args, f, trusted, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "only recordings of user `U`")
	fl.StringVar(&f.host, "host", "", "only recordings made on host `H`")
	fl.StringVar(&f.rec, "rec", "", "only the recording with id `R`")
	fl.StringVar(&since, "since", "", "only recordings active at or after `T`")
	fl.StringVar(&until, "until", "", "only recordings active at or before `T`")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per recording and line")
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

func runList(cmd *cobra.Command, args []string, f listFilter, trusted keys.Set, asJSON bool) error {
	stderr := cmd.ErrOrStderr()
	status := exitOK
	files, missing, err := recordingFiles(args, stderr)
	if err != nil {
		return &exitError{exitUsageErr, err}
	}
	if missing {
		status = exitUsageErr
	}
	var all []listing
	for _, path := range files {
		ls, err := listFile(path, trusted)
		if err != nil {
			fmt.Fprintf(stderr, "vigil-play: %v\n", err)
			status = exitUsageErr
			continue
		}
		for i := range ls {
			if f.match(&ls[i]) {
				all = append(all, ls[i])
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Start.Equal(all[j].Start) {
			return all[i].Start.Before(all[j].Start)
		}
		return all[i].File < all[j].File
	})
	if err := printListing(cmd.OutOrStdout(), all, asJSON); err != nil {
		return &exitError{exitUsageErr, err}
	}
	if status != exitOK {
		return &exitError{code: status}
	}
	return nil
}

func printListing(w io.Writer, all []listing, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for i := range all {
			if !all[i].Start.IsZero() {
				s := all[i].Start.Format(time.RFC3339Nano)
				all[i].StartJSON = &s
			}
			if err := enc.Encode(&all[i]); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tDURATION\tUSER\tHOST\tTERM\tSIZE\tSTATE\tREC\tFILE")
	for _, l := range all {
		start := "-"
		if !l.Start.IsZero() {
			start = l.Start.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", start, formatDuration(l.Duration),
			dash(l.User), dash(l.Host), dash(l.Term), formatSize(l.Size), l.State, dash(l.Rec), l.File)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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

// listFile describes the recordings in one file. The integrity state needs
// the whole file (verify); the metadata comes from the first and last
// message, except in files holding several recordings, which are scanned.
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
	reports, err := verify.Recordings(f, trusted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(reports) == 0 {
		return []listing{{File: path, State: "EMPTY", Size: fi.Size(), Detail: "no messages"}}, nil
	}
	if len(reports) == 1 {
		l := listing{File: path, Size: fi.Size()}
		setState(&l, reports[0])
		first, err := firstMessage(f, path)
		if err != nil {
			return nil, err
		}
		last, err := lastMessage(f, fi.Size())
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
func firstMessage(f *os.File, path string) (*reader.Message, error) {
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
func lastMessage(f *os.File, size int64) (*reader.Message, error) {
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
func scanFile(f *os.File, path string, reports []verify.Report) ([]listing, error) {
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
