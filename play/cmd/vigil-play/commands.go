package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/cmdtimeline"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

func commandsCmd() *cobra.Command {
	var (
		keyPaths []string
		dir, rec string
		asJSON   bool
		sf       serverFlags
	)
	cmd := &cobra.Command{
		Use:   "commands [-k KEYFILE|DIR]... [--dir DIR] [-m REC] [--json] REC|FILE... | --server URL HOST/FILE...",
		Short: "Show the commands a recorded session ran, from its verified command log",
		Long: `Show the commands a recorded login session ran: the command log vigil-cmdlog
wrote beside the recording (DIR/commands/REC.jsonl), verified against the trusted
public keys as verify verifies recordings. Each argument is a recording FILE (each
recording it holds, or with -m recording REC of it), or a recording id REC looked
up in --dir (default ` + store.DefaultDir + `; the journal's recordings keep their
command logs there too).

First the log's verdict, in verify's states:

  commands of REC: STATE[ at line N: DETAIL]; M commands[; may be missing: WHY]...

then one line per command, at its time in the recording:

  N  +HH:MM:SS.mmm  USER  CWD  ARGV  [ENOENT]  [incomplete: WHY]

N is what play --goto-command takes, the offset what play --goto takes. USER is
the name of the command's uid on this host, with "(euid NAME)" when the effective
one differs. CWD and ARGV are quoted as a shell reads them, what would act on a
terminal as $'\x1b...'. [ENOENT] marks a call that failed (its errno), and
[incomplete] one some of whose audit records were lost. Where commands may be
missing (the kernel lost events, vigil-cmdlog was not running), a line says so in
place. Only OK means that the log is authentic and complete as written.

With --json, one object per line: first {"kind":"report","recording","file","rec",
"state","line","detail","commands","ended","lost","keys","start"}; then for each
command {"kind":"exec","rec","n","offset","seconds","time","user","euser","line",
"error"} with the log's "pid","ppid","uid","euid","auid","tty","cwd","exe","path",
"argv","redacted","ok","exit","incomplete","problems"; for each loss
{"kind":"lost","rec","offset","seconds","time","lost"}.

With --server, each argument is a collector's recording HOST/FILE (as list
--server names them), and the command log is the one the host shipped, verified
against the -k keys or else the keys the collector trusts for the host.

Exit status: 0 every log is OK, 1 some log is not OK or a recording has none, 2
usage error or a file or key could not be read.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			if c != nil {
				defer c.Close()
			}
			var trusted keys.Set
			if c == nil || len(keyPaths) > 0 {
				if trusted, err = trustedKeys(keyPaths, cmd.ErrOrStderr()); err != nil {
					return &exitError{exitUsageErr, err}
				}
			}
			hostKeys := map[string]keys.Set{}
			status := exitOK
			for _, arg := range args {
				if c != nil {
					st, err := remoteCommands(cmd, c, arg, trusted, hostKeys, asJSON)
					if err != nil {
						warn(cmd.ErrOrStderr(), "%v", err)
					}
					status = max(status, st)
					continue
				}
				rs, err := cmdtimeline.Resolve(arg, dir, rec)
				if err == nil && len(rs) == 0 {
					err = fmt.Errorf("%s: %w: its recording has no id", arg, cmdtimeline.ErrNoLog)
				}
				if err != nil {
					warn(cmd.ErrOrStderr(), "%v", err)
					status = max(status, exitUsageErr)
					continue
				}
				for _, r := range rs {
					st, err := showCommands(cmd, r, trusted, asJSON)
					if err != nil {
						return &exitError{exitUsageErr, fmt.Errorf("write: %w", err)}
					}
					status = max(status, st)
				}
			}
			if status != exitOK {
				return &exitError{code: status}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", store.DefaultDir, "look recording ids up in the recordings `DIR`ectory")
	fl.StringVarP(&rec, "rec", "m", "", "only recording `REC` of a FILE holding several")
	fl.BoolVar(&asJSON, "json", false, "print the report, then one JSON object per command and loss")
	addKeyFlag(cmd, &keyPaths)
	addServerFlags(cmd, &sf)
	return cmd
}

// remoteCommands prints the command log of the collector's recording
// HOST/FILE, verified against trusted or else the keys the collector
// trusts for the host, and returns the exit status it calls for.
func remoteCommands(cmd *cobra.Command, c *remote.Client, name string, trusted keys.Set, hostKeys map[string]keys.Set, asJSON bool) (int, error) {
	host, file, err := remote.ParseName(name)
	if err != nil {
		return exitUsageErr, err
	}
	ks, err := remoteKeys(cmd, c, host, trusted, hostKeys)
	if err != nil {
		return exitUsageErr, err
	}
	recs, err := c.Recordings(cmd.Context(), remote.Filter{Host: host})
	if err != nil {
		return exitUsageErr, err
	}
	i := slices.IndexFunc(recs, func(r fleetapi.Recording) bool { return r.File == file })
	if i < 0 {
		return exitUsageErr, fmt.Errorf("%s: the collector has no such recording", name)
	}
	r := cmdtimeline.Recording{Name: name, Rec: recs[i].Rec}
	if recs[i].Start != nil {
		r.Start = *recs[i].Start
	}
	data, err := c.CommandLog(cmd.Context(), host, r.Rec)
	if err != nil {
		return exitFailed, fmt.Errorf("%w for recording %s: %w", cmdtimeline.ErrNoLog, name, err)
	}
	return printTimeline(cmd, cmdtimeline.FromData(r, data, ks), asJSON)
}

// showCommands prints the command log of r and returns the exit status it
// calls for; the error is a failed write.
func showCommands(cmd *cobra.Command, r cmdtimeline.Recording, trusted keys.Set, asJSON bool) (int, error) {
	tl, err := cmdtimeline.Read(r, trusted)
	switch {
	case errors.Is(err, cmdtimeline.ErrNoLog):
		warn(cmd.ErrOrStderr(), "%v", err)
		return exitFailed, nil
	case err != nil:
		warn(cmd.ErrOrStderr(), "%v", err)
		return exitUsageErr, nil
	}
	return printTimeline(cmd, tl, asJSON)
}

// printTimeline prints tl and returns the exit status it calls for; the
// error is a failed write.
func printTimeline(cmd *cobra.Command, tl *cmdtimeline.Timeline, asJSON bool) (int, error) {
	print := cmdtimeline.Print
	if asJSON {
		print = cmdtimeline.PrintJSON
	}
	if err := print(cmd.OutOrStdout(), tl); err != nil {
		return exitUsageErr, err
	}
	if tl.Report.State != verify.OK {
		return exitFailed, nil
	}
	return exitOK, nil
}
