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

With --server, the recordings a collector holds are listed instead, as it
verified them on arrival against each host's keys; FILE is then HOST/FILE, which
play, export and verify take with --server.

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
			c, err := sf.client()
			if err != nil {
				return err
			}
			defer c.Close() // nil when files are read
			switch {
			case c != nil && (len(args) > 0 || o.source != "file" || len(keyPaths) > 0):
				return &exitError{exitUsageErr, errors.New("--server lists the collector's recordings: no DIR, FILE, --reader or --key")}
			case c != nil:
				return listServer(cmd, c, f, o.asJSON)
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
	fl.StringVar(&f.User, "user", "", "only recordings of user `U`")
	fl.StringVar(&f.Host, "host", "", "only recordings made on host `H`")
	fl.StringVar(&f.Rec, "rec", "", "only the recording with id `R`")
	fl.StringVar(&since, "since", "", "only recordings active at or after `T`")
	fl.StringVar(&until, "until", "", "only recordings active at or before `T`")
	fl.BoolVar(&f.Held, "held", false, "only recordings under a legal hold")
	fl.BoolVar(&o.asJSON, "json", false, "print one JSON object per recording and line")
	fl.BoolVar(&o.noCache, "no-cache", false, "read and verify every file again, ignoring what list found before")
	fl.StringVarP(&o.source, "reader", "r", "file", "read from `READER`: file, or journal (the recordings in the systemd journal)")
	addKeyFlag(cmd, &keyPaths)
	addServerFlags(cmd, &sf)
	return cmd
}

// listOptions are list's flags other than the filters.
type listOptions struct {
	asJSON, noCache bool
	source          string // "file" or "journal"
}

func runList(cmd *cobra.Command, args []string, f listing.Filter, trusted keys.Set, o listOptions) error {
	stderr := cmd.ErrOrStderr()
	results, status, err := listSources(stderr, args, trusted, o)
	if err != nil {
		return &exitError{exitUsageErr, err}
	}
	var rows []listing.Row
	holds := listing.Holds{OnError: func(err error) { warn(stderr, "%v", err) }}
	for _, r := range results {
		if r.Err != nil {
			warn(stderr, "%v", r.Err)
			status = exitUsageErr
			continue
		}
		for i := range r.Rows {
			row := &r.Rows[i]
			if o.source == "file" {
				holds.Mark(row)
			}
			if f.Match(row) {
				rows = append(rows, *row)
			}
		}
	}
	listing.Sort(rows)
	if err := listing.Print(cmd.OutOrStdout(), rows, o.asJSON); err != nil {
		return &exitError{exitUsageErr, err}
	}
	if status != exitOK {
		return &exitError{code: status}
	}
	return nil
}

// listSources describes the recordings of the files and directories in
// args, or of the journal, with a progress bar. Arguments that cannot be
// read make the status exitUsageErr.
func listSources(stderr io.Writer, args []string, trusted keys.Set, o listOptions) ([]listing.Result, int, error) {
	bar := newProgressBar(stderr, "verifying recordings")
	if o.source == "journal" {
		results, err := listing.Journal(trusted, bar.update)
		bar.clear()
		return results, exitOK, err
	}
	status := exitOK
	files, missing := recordingFiles(args, stderr)
	if missing {
		status = exitUsageErr
	}
	cache := store.OpenCache(trusted)
	cache.Reread = o.noCache
	results := listing.Files(files, cache, trusted, bar.update)
	bar.clear()
	if err := cache.Save(); err != nil {
		warn(stderr, "cannot cache the list: %v", err)
	}
	return results, status, nil
}
