package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/cmdtimeline"
	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

func searchCmd() *cobra.Command {
	var (
		useRegex, asJSON bool
		o                search.Options
		source           string
		sf               serverFlags
		host             string
		command          string
		keyPaths         []string
	)
	cmd := &cobra.Command{
		Use:   "search PATTERN|--command REGEX [DIR|FILE...|--reader journal] [--regex] [--input] [--user U] [--rec R] [--json]",
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
journal),"rec","offset","seconds","source":"screen"|"input"|"command","line"}.
A hit is replayed with: vigil-play play RECORDING --goto HH:MM:SS.mmm

With --server, the collector searches the recordings it holds (--host selects a
host's); RECORDING is then HOST/FILE, replayed with
vigil-play play --server URL HOST/FILE --goto HH:MM:SS.mmm

With --command REGEX (no PATTERN), the command logs of the same recordings are
searched instead (see "vigil-play commands"): each command whose arguments,
joined with spaces, match the regular expression is a hit, at the time it ran,
printed as "RECORDING  +HH:MM:SS.mmm  (command) ARGV" (ARGV quoted as a shell
reads it back), or with --json with "source":"command". Each log is verified
against the trusted keys (-k, as verify): one that is not OK is searched all the
same, and said so on standard error. Command logs stay on their host: not with
--server.

Exit status: 0 found, 1 not found, 2 usage error or a recording could not be
read (the other recordings are still searched).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("command") {
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			byCommand := cmd.Flags().Changed("command")
			pattern, paths := command, args
			if !byCommand {
				pattern, paths = args[0], args[1:]
			}
			switch {
			case pattern == "" && byCommand:
				return &exitError{exitUsageErr, errors.New("empty --command REGEX")}
			case pattern == "":
				return &exitError{exitUsageErr, errors.New("empty PATTERN")}
			case byCommand && o.Input:
				return &exitError{exitUsageErr, errors.New("--command searches the command logs: no --input")}
			case byCommand && sf.named():
				return &exitError{exitUsageErr, cmdtimeline.ErrNotRemote}
			}
			var err error
			if o.Match, err = search.Compile(pattern, useRegex || byCommand); err != nil {
				return &exitError{exitUsageErr, fmt.Errorf("bad regular expression: %w", err)}
			}
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
			if !byCommand {
				return runSearch(cmd, paths, source, o.Rec, textSearcher(o), asJSON)
			}
			trusted, err := trustedKeys(keyPaths, cmd.ErrOrStderr())
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			logs := 0
			err = runSearch(cmd, paths, source, o.Rec, commandSearcher(cmd.ErrOrStderr(), o, trusted, &logs), asJSON)
			if logs == 0 {
				warn(cmd.ErrOrStderr(), "none of the recordings searched has a command log (vigil-cmdlog writes them for login sessions)")
			}
			return err
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
	fl.StringVar(&command, "command", "", "search the command logs for commands whose arguments match `REGEX`")
	addKeyFlag(cmd, &keyPaths)
	addServerFlags(cmd, &sf)
	return cmd
}

// searcher finds the hits of one recording file, or of one recording in
// the journal.
type searcher struct {
	file    func(path string) ([]search.Hit, error)
	journal func(rec string) ([]search.Hit, error)
}

// textSearcher finds text on the screen, or typed.
func textSearcher(o search.Options) searcher {
	return searcher{
		file:    func(path string) ([]search.Hit, error) { return search.File(path, o) },
		journal: func(rec string) ([]search.Hit, error) { return search.Journal(rec, o) },
	}
}

// commandSearcher finds commands in the recordings' command logs,
// counting the logs in *logs and warning of those that are not OK.
func commandSearcher(stderr io.Writer, o search.Options, trusted keys.Set, logs *int) searcher {
	read := func(tl *cmdtimeline.Timeline) {
		*logs++
		if tl.Report.State != verify.OK {
			warn(stderr, "%s: %s", tl.Name, tl.Report.String())
		}
	}
	return searcher{
		file: func(path string) ([]search.Hit, error) {
			rs, err := cmdtimeline.InFile(path, "")
			if err != nil {
				return nil, err
			}
			return cmdtimeline.Search(rs, o, trusted, read)
		},
		journal: func(rec string) ([]search.Hit, error) {
			return cmdtimeline.Search([]cmdtimeline.Recording{cmdtimeline.Journal(rec)}, o, trusted, read)
		},
	}
}

// runSearch searches the recordings of the files and directories in args,
// or of the journal (only recording rec, when not ""), with s, printing
// the hits of each as it is searched.
func runSearch(cmd *cobra.Command, args []string, source, rec string, s searcher, asJSON bool) error {
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
		for _, id := range recs {
			if rec != "" && id != rec {
				continue
			}
			if err := report(s.journal(id)); err != nil {
				return err
			}
		}
	} else {
		files, missing := recordingFiles(args, stderr)
		if missing {
			status = exitUsageErr
		}
		for _, path := range files {
			if err := report(s.file(path)); err != nil {
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
