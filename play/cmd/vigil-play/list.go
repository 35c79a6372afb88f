package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/listing"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

func listCmd() *cobra.Command {
	var (
		f            listing.Filter
		since, until string
		o            listOptions
		keyPaths     []string
		sf           serverFlags
	)
	cmd := &cobra.Command{
		Use:   "list [DIR|FILE...|--reader journal] [--user U] [--host H] [--since T] [--until T] [--rec R] [--reverse] [--limit N [--offset N]] [--json]",
		Short: "List recordings with their time, user, host and integrity state",
		Long: `List the recordings in each DIR (its *.jsonl files; default ` + store.DefaultDir + `) or FILE,
one line per recording, oldest first (newest first with --reverse): start (local
time), duration, user, host, terminal, size, integrity state (as "verify"
reports it), HELD when a legal hold (vigilctl hold, in the directory's holds/)
keeps it from purging, recording id and file.
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

--limit N lists only the first N recordings of that order (with --offset M,
those after the first M: the next page), and verifies only their files. With
--reverse it finds the newest by the start time in the names the recorder gives
its files (else their modification time), and reads no more of the others than
it must. With --verify-max-bytes N, a file over N bytes that list has not
verified before (of one recording, as the recorder names them) is not verified:
its line comes from its first and last message, with the state UNVERIFIED, and
is not cached; a later list without the option verifies it. The Cockpit page
shows its first screen so, then the whole list. Only the files read count for
the exit status.

With --server, the recordings a collector holds are listed instead, as it
verified them on arrival against each host's keys; FILE is then HOST/FILE, which
play, export and verify take with --server. --reverse, --limit and --offset
pick from the collector's whole list.

Exit status: 0 listed (whatever the recordings' states), 2 usage error or a
directory, file or key could not be read.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if f.Since, err = listing.ParseWhen(since); err != nil {
				return &exitError{exitUsageErr, fmt.Errorf("--since: %w", err)}
			}
			if f.Until, err = listing.ParseWhen(until); err != nil {
				return &exitError{exitUsageErr, fmt.Errorf("--until: %w", err)}
			}
			if o.page.Limit < 0 || o.page.Offset < 0 || o.verifyMax < 0 {
				return &exitError{exitUsageErr, errors.New("--limit, --offset and --verify-max-bytes take a number of 0 or more")}
			}
			c, err := sf.client()
			if err != nil {
				return err
			}
			defer c.Close() // nil when files are read
			switch {
			case c != nil && (len(args) > 0 || o.source != "file" || len(keyPaths) > 0 || o.verifyMax > 0):
				return &exitError{exitUsageErr, errors.New("--server lists the collector's recordings: no DIR, FILE, --reader, --key or --verify-max-bytes")}
			case c != nil:
				return listServer(cmd, c, f, o)
			}
			trusted, err := trustedKeys(keyPaths, cmd.ErrOrStderr())
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			switch {
			case o.source != "file" && o.source != "journal":
				return &exitError{exitUsageErr, fmt.Errorf("--reader must be file or journal, not %q", o.source)}
			case o.source == "journal" && (len(args) > 0 || o.verifyMax > 0):
				return &exitError{exitUsageErr, errors.New("--reader journal lists the journal: no DIR, FILE or --verify-max-bytes")}
			case len(args) == 0:
				args = []string{store.DefaultDir}
			}
			return runList(cmd, args, f, trusted, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.User, "user", "", "only recordings of user `U`")
	fl.StringVar(&f.Host, "host", "", "only recordings made on host `H`")
	fl.StringVar(&f.Rec, "rec", "", "only the recording with id `R`")
	fl.StringVar(&since, "since", "", "only recordings active at or after `T`")
	fl.StringVar(&until, "until", "", "only recordings active at or before `T`")
	fl.BoolVar(&f.Held, "held", false, "only recordings under a legal hold")
	fl.BoolVar(&o.asJSON, "json", false, "print one JSON object per recording and line")
	fl.BoolVar(&o.noCache, "no-cache", false, "read and verify every file again, ignoring what list found before")
	fl.BoolVar(&o.page.Reverse, "reverse", false, "newest first")
	fl.IntVar(&o.page.Limit, "limit", 0, "list at most `N` recordings, and verify only their files (0: all)")
	fl.IntVar(&o.page.Offset, "offset", 0, "skip the first `N` recordings")
	fl.Int64Var(&o.verifyMax, "verify-max-bytes", 0, "leave files over `N` bytes that list has not verified before UNVERIFIED (0: verify all)")
	fl.StringVarP(&o.source, "reader", "r", "file", "read from `READER`: file, or journal (the recordings in the systemd journal)")
	addKeyFlag(cmd, &keyPaths)
	addServerFlags(cmd, &sf)
	return cmd
}

// listOptions are list's flags other than the filters.
type listOptions struct {
	asJSON, noCache bool
	source          string // "file" or "journal"
	page            listing.Page
	verifyMax       int64 // listing.Lister's VerifyMax
}

func runList(cmd *cobra.Command, args []string, f listing.Filter, trusted keys.Set, o listOptions) error {
	stderr := cmd.ErrOrStderr()
	holds := listing.Holds{OnError: func(err error) { warn(stderr, "%v", err) }}
	match := func(r *listing.Row) bool {
		if o.source == "file" {
			holds.Mark(r)
		}
		return f.Match(r)
	}
	rows, errs, status, err := listSources(stderr, args, trusted, match, o)
	if err != nil {
		return &exitError{exitUsageErr, err}
	}
	for _, err := range errs {
		warn(stderr, "%v", err)
		status = exitUsageErr
	}
	if err := listing.Print(cmd.OutOrStdout(), rows, o.asJSON); err != nil {
		return &exitError{exitUsageErr, err}
	}
	if status != exitOK {
		return &exitError{code: status}
	}
	return nil
}

// listSources returns the rows of the recordings in the files and
// directories in args, or in the journal, that match selects, at
// o.page's place, with a progress bar, and the errors of what could not
// be read. Arguments that cannot be read make the status exitUsageErr.
func listSources(stderr io.Writer, args []string, trusted keys.Set, match func(*listing.Row) bool, o listOptions) ([]listing.Row, []error, int, error) {
	bar := newProgressBar(stderr, "verifying recordings")
	if o.source == "journal" {
		results, err := listing.Journal(trusted, bar.update)
		bar.clear()
		rows, errs := listing.Collect(results, match, o.page)
		return rows, errs, exitOK, err
	}
	status := exitOK
	files, missing := recordingFiles(args, stderr)
	if missing {
		status = exitUsageErr
	}
	cache := store.OpenCache(trusted)
	cache.Reread = o.noCache
	l := listing.Lister{Cache: cache, Trusted: trusted, VerifyMax: o.verifyMax, Progress: bar.update}
	rows, errs := l.List(files, match, o.page)
	bar.clear()
	if err := cache.Save(); err != nil {
		warn(stderr, "cannot cache the list: %v", err)
	}
	return rows, errs, status, nil
}
