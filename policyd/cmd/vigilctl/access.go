package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/policyd/accesslog"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

func accessLogCmd() *cobra.Command {
	var (
		dir      string
		keyPaths []string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "access-log [--dir DIR] [-k KEY]... [--json]",
		Short: "List who viewed, searched and downloaded recordings, each line verified",
		Long: `Lists the access log that vigil-policyd keeps for the Cockpit page (RecordAccess:
every view, search, verification and download, recorded before the page shows it),
oldest first, each line verified: its signature against the trusted public keys and
its link to the line before. States, worst first: MODIFIED (changed, inserted or moved
since it was written), MISSING (lines before it were removed), UNKNOWN_KEY, UNSIGNED, OK.
Removing the newest lines cannot be seen here: compare the newest seq with the
"access recorded" lines policyd logs to the journal.

Exit status: 0 every line OK (or none), 1 some line not OK, 2 the log or a key could
not be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			trusted, err := keys.LoadPublic(keyPaths...)
			if err != nil {
				return &exitError{2, err}
			}
			reps, err := accesslog.Verify(dir, trusted)
			if err != nil {
				return &exitError{2, err}
			}
			return printVerdicts(cmd.OutOrStdout(), reps, asJSON, "no accesses recorded in "+dir, "access log lines",
				func(r *accesslog.Report) (*store.Verdict, string, string) {
					e := r.Entry
					if e == nil {
						return &r.Verdict, fmt.Sprintf("%s:%d", r.File, r.Line), ""
					}
					head := fmt.Sprintf("%s seq %d %s %s %s", e.Time.Format(time.RFC3339), e.Seq, safetext.Printable(e.Who),
						e.Action, safetext.Printable(e.File))
					if e.Rec != "" {
						head += " rec " + safetext.Printable(e.Rec)
					}
					if e.Detail != "" {
						head += " (" + safetext.Printable(e.Detail) + ")"
					}
					if e.From != "" {
						head += " from " + safetext.Printable(e.From)
					}
					if e.Session != 0 {
						head += fmt.Sprintf(" session %d", e.Session)
					}
					return &r.Verdict, head, ""
				})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", accesslog.DefaultDir, "the access log's `DIR`ectory")
	cmd.Flags().StringSliceVarP(&keyPaths, "key", "k", []string{keyDir}, "trusted public `KEY` or directory of *.pub (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per line of the log")
	return cmd
}
