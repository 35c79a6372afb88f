package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/store"
)

func searchCmd() *cobra.Command {
	var (
		useRegex, asJSON bool
		o                search.Options
		source           string
		sf               serverFlags
		host             string
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

With --server, the collector searches the recordings it holds (--host selects a
host's); RECORDING is then HOST/FILE, replayed with
vigil-play play --server URL HOST/FILE --goto HH:MM:SS.mmm

Exit status: 0 found, 1 not found, 2 usage error or a recording could not be
read (the other recordings are still searched).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return &exitError{exitUsageErr, errors.New("empty PATTERN")}
			}
			var err error
			if o.Match, err = search.Compile(args[0], useRegex); err != nil {
				return &exitError{exitUsageErr, fmt.Errorf("--regex: %w", err)}
			}
			paths := args[1:]
			c, err := sf.client()
			if err != nil {
				return err
			}
			defer c.Close() // nil when files are read
			switch {
			case c != nil && (len(paths) > 0 || source != "file"):
				return &exitError{exitUsageErr, errors.New("--server searches the collector's recordings: no DIR, FILE or --reader")}
			case c != nil:
				return searchServer(cmd, c, remote.Query{Text: args[0], Regex: useRegex, Input: o.Input,
					Filter: remote.Filter{Host: host, User: o.User, Rec: o.Rec}}, asJSON)
			case host != "":
				return &exitError{exitUsageErr, errors.New("--host selects a host's recordings at a collector: only with --server")}
			}
			switch {
			case source != "file" && source != "journal":
				return &exitError{exitUsageErr, fmt.Errorf("--reader must be file or journal, not %q", source)}
			case source == "journal" && len(paths) > 0:
				return &exitError{exitUsageErr, errors.New("--reader journal searches the journal: no DIR or FILE")}
			case len(paths) == 0:
				paths = []string{store.DefaultDir}
			}
			return runSearch(cmd, paths, source, o, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&useRegex, "regex", false, "PATTERN is a Go regular expression")
	fl.BoolVar(&o.Input, "input", false, "search the typed input too, when it was recorded")
	fl.StringVar(&o.User, "user", "", "only recordings of user `U`")
	fl.StringVarP(&o.Rec, "rec", "m", "", "only the recording with id `R`")
	fl.StringVarP(&source, "reader", "r", "file", "read from `READER`: file, or journal (the recordings in the systemd journal)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per hit")
	fl.StringVar(&host, "host", "", "with --server, only recordings made on host `H`")
	addServerFlags(cmd, &sf)
	return cmd
}

// runSearch searches the recordings of the files and directories in args,
// or of the journal, printing the hits of each as it is searched.
func runSearch(cmd *cobra.Command, args []string, source string, o search.Options, asJSON bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	status := exitFailed
	var first *search.Hit
	report := func(hits []search.Hit, err error) error {
		if err != nil {
			warn(stderr, "%v", err)
			status = exitUsageErr
		}
		if len(hits) > 0 && first == nil {
			first = &hits[0]
		}
		if werr := search.Print(stdout, hits, asJSON); werr != nil {
			return &exitError{exitUsageErr, fmt.Errorf("write: %w", werr)}
		}
		return nil
	}
	if source == "journal" {
		recs, err := player.JournalRecordings()
		if err != nil {
			return &exitError{exitUsageErr, err}
		}
		for _, rec := range recs {
			if o.Rec != "" && rec != o.Rec {
				continue
			}
			if err := report(search.Journal(rec, o)); err != nil {
				return err
			}
		}
	} else {
		files, missing := recordingFiles(args, stderr)
		if missing {
			status = exitUsageErr
		}
		for _, path := range files {
			if err := report(search.File(path, o)); err != nil {
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
