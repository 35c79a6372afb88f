package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/policyd/accesslog"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
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
			w := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(w, reps); err != nil {
					return err
				}
			} else if len(reps) == 0 {
				fmt.Fprintf(w, "no accesses recorded in %s\n", dir)
			}
			bad := 0
			for _, r := range reps {
				if r.State != verify.OK {
					bad++
				}
				if asJSON {
					continue
				}
				if e := r.Entry; e != nil {
					fmt.Fprintf(w, "%s seq %d %s %s %s", e.Time.Format(time.RFC3339), e.Seq, safetext.Printable(e.Who),
						e.Action, safetext.Printable(e.File))
					if e.Rec != "" {
						fmt.Fprintf(w, " rec %s", safetext.Printable(e.Rec))
					}
					if e.Detail != "" {
						fmt.Fprintf(w, " (%s)", safetext.Printable(e.Detail))
					}
					if e.From != "" {
						fmt.Fprintf(w, " from %s", safetext.Printable(e.From))
					}
					if e.Session != 0 {
						fmt.Fprintf(w, " session %d", e.Session)
					}
				} else {
					fmt.Fprintf(w, "%s:%d", r.File, r.Line)
				}
				fmt.Fprintf(w, ": %s", r.StateName)
				if r.Detail != "" {
					fmt.Fprintf(w, ": %s", r.Detail)
				}
				fmt.Fprintln(w)
			}
			if bad > 0 {
				return &exitError{1, fmt.Errorf("%d of %d access log lines are not OK", bad, len(reps))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", accesslog.DefaultDir, "the access log's `DIR`ectory")
	cmd.Flags().StringSliceVarP(&keyPaths, "key", "k", []string{keyDir}, "trusted public `KEY` or directory of *.pub (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per line of the log")
	return cmd
}
