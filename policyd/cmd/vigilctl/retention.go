package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/conf/hostinfo"
	"github.com/vigil-rec/vigil/policyd/nsslookup"
	"github.com/vigil-rec/vigil/policyd/retention"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// resolveRec takes a recording id or a recording file and returns the id
// and, when found in dir, the file.
func resolveRec(arg, dir string) (rec, file string, err error) {
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		r, err := store.ReadHead(arg)
		if err != nil {
			return "", "", err
		}
		file, err = filepath.Abs(arg)
		return r.Rec, file, err
	}
	file, err = store.FindID(dir, arg)
	return arg, file, err
}

func holdCmd() *cobra.Command {
	var dir, reason string
	cmd := &cobra.Command{
		Use:   "hold REC-ID|FILE",
		Short: "Put a recording under legal hold: purge keeps it until it is released",
		Long: "Puts a hold on the recording (by id, or the recording in FILE) that keeps purge\n" +
			"from deleting it, whatever its retention. Holds are files in DIR/holds, readable\n" +
			"by whoever may read the recordings; `vigil-play list` shows them. A recording\n" +
			"need not exist yet to be held.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, file, err := resolveRec(args[0], dir)
			if err != nil {
				return err
			}
			h := store.Hold{Rec: rec, File: file, Since: time.Now().UTC(), By: hostinfo.Caller(), Reason: reason}
			if err := store.Place(dir, h); errors.Is(err, fs.ErrExist) {
				holds, _ := store.LoadHolds(store.HoldsDir(dir))
				old, _ := holds.Held(rec)
				return fmt.Errorf("recording %s is already held, since %s by %s (%s); release it first to change the hold",
					rec, old.Since.Format(time.RFC3339), old.By, old.Reason)
			} else if err != nil {
				return err
			}
			where := file
			if where == "" {
				where = "no recording with this id in " + dir + " now"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "held %s (%s)\n", rec, where)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why it is held (case number, request): `TEXT`")
	cmd.Flags().StringVar(&dir, "dir", store.DefaultDir, "recordings `DIR`ectory")
	return cmd
}

func releaseCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "release REC-ID|FILE",
		Short: "Lift the legal hold on a recording: purge may delete it again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, _, err := resolveRec(args[0], dir)
			if err != nil {
				return err
			}
			h, err := store.Release(dir, rec)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "released %s (held since %s by %s: %s)\n", rec, h.Since.Format(time.RFC3339), h.By, h.Reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", store.DefaultDir, "recordings `DIR`ectory")
	return cmd
}

func holdsCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "holds",
		Short: "List the recordings under legal hold",
		Long: "Lists the holds in DIR/holds, oldest first.\n\n" +
			"Exit status: 0 listed, 1 some hold file could not be read (the others are listed).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			holds, err := store.LoadHolds(store.HoldsDir(dir))
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "vigilctl: %v\n", err)
			}
			list := make([]store.Hold, 0, len(holds))
			for _, h := range holds {
				list = append(list, h)
			}
			sort.Slice(list, func(i, j int) bool { // oldest first
				if !list[i].Since.Equal(list[j].Since) {
					return list[i].Since.Before(list[j].Since)
				}
				return list[i].Rec < list[j].Rec
			})
			if asJSON {
				if jerr := printJSON(cmd.OutOrStdout(), list); jerr != nil {
					return jerr
				}
			} else {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "REC\tSINCE\tBY\tREASON\tFILE")
				for _, h := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Rec, h.Since.Local().Format("2006-01-02 15:04:05"), h.By, dash(h.Reason), dash(h.File))
				}
				tw.Flush()
			}
			if err != nil {
				return &exitError{1, errors.New("some holds could not be read (above)")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", store.DefaultDir, "recordings `DIR`ectory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lookupUser resolves users for the retention rules through the whole NSS
// chain, as policyd does.
func lookupUser(name string) (*decide.User, error) {
	u, err := nsslookup.User(name)
	if errors.Is(err, nsslookup.ErrNoSuchUser) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u.Groups, err = nsslookup.Groups(u.Name, u.GID)
	return u, err
}

func purgeCmd() *cobra.Command {
	var (
		dir, policy, keyFile, now string
		keyPaths                  []string
		dryRun, asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete recordings past their retention, except those on hold, and record what was deleted",
		Long: `Deletes the recordings in DIR (files named <UTC start>-<host>-<user>-<rec>.jsonl;
nothing else is touched) that ended longer ago than their retention: the
retention_days of the rule that decides the recording's user now (for any
service, as "vigilctl explain USER" shows), else [retention] days of the
policy; 0 keeps them forever (the default). A recording ends at its last
message or, if later, at its file's modification time. Recordings on hold
(vigilctl hold), still open by a process, or that cannot be read are kept.

Before deleting anything, purge writes a record of what it deletes (file,
id, user, host, times, size, SHA-256, last chain hash, integrity state,
retention and why) to DIR/purged, signed with the host's key and chained to
the previous record (rec/spec/purge.md); if it cannot, nothing is deleted.
Check the records with "vigilctl verify-purges". vigil-purge.timer runs
this daily.

Exit status: 0 done (also when nothing was due), 1 something could not be
read, recorded or deleted (see the messages), 2 bad option.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			when := time.Now()
			if now != "" {
				t, err := time.Parse(time.RFC3339, now)
				if err != nil {
					return &exitError{2, fmt.Errorf("--now: %w", err)}
				}
				when = t
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			e, err := offline(policy, nil)
			if err != nil {
				return err
			}
			text, err := os.ReadFile(policy)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(text)
			stderr := cmd.ErrOrStderr()
			trusted, err := keys.LoadPublic(keyPaths...)
			if err != nil {
				fmt.Fprintf(stderr, "vigilctl: warning: %v: purged recordings' integrity is noted against no trusted key\n", err)
				trusted = keys.Set{}
			}
			warnRecords(stderr, store.PurgedDir(abs), trusted)
			res, err := retention.Purge(retention.Options{Dir: abs, Now: when, Rules: retention.NewRules(e.Policy(), lookupUser),
				Trusted: trusted, KeyFile: keyFile, DryRun: dryRun,
				Host: hostinfo.FQDN(2 * time.Second), By: hostinfo.Caller(), Policy: policy, PolicyHash: hex.EncodeToString(sum[:])})
			if err != nil {
				return err
			}
			if asJSON {
				err = printJSON(cmd.OutOrStdout(), res)
			} else {
				printPurge(cmd.OutOrStdout(), res, dryRun)
			}
			if err != nil {
				return err
			}
			if n := count(res, retention.Failed); n > 0 {
				return &exitError{1, fmt.Errorf("%d recording(s) could not be read or deleted (above)", n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", store.DefaultDir, "recordings `DIR`ectory")
	f.StringVarP(&policy, "policy", "p", conf.DefaultPolicyPath, "policy `FILE` that sets the retention")
	f.StringVar(&keyFile, "sign-key", filepath.Join(keyDir, signingKey), "`KEY` that signs the purge record")
	f.StringSliceVarP(&keyPaths, "key", "k", []string{keyDir}, "trusted public `KEY` or directory of *.pub, to note purged recordings' integrity (repeatable)")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "show what would be purged; delete and record nothing")
	f.StringVar(&now, "now", "", "measure ages to `TIME` (RFC 3339) instead of now")
	f.BoolVar(&asJSON, "json", false, "print JSON: the record written and every recording's outcome")
	return cmd
}

// warnRecords says when the purge records so far do not all verify: purge
// still runs (a damaged record must not stop retention), the next record
// chains to the newest one.
func warnRecords(w io.Writer, dir string, trusted keys.Set) {
	reps, err := store.VerifyPurgeDir(dir, trusted)
	if err != nil {
		fmt.Fprintf(w, "vigilctl: warning: %v\n", err)
		return
	}
	for _, r := range reps {
		if r.State != verify.OK {
			fmt.Fprintf(w, "vigilctl: warning: purge record %s: %s: %s (vigilctl verify-purges)\n", r.File, r.StateName, r.Detail)
		}
	}
}

func count(res *retention.Result, a retention.Action) int {
	n := 0
	for _, o := range res.Recordings {
		if o.Action == a {
			n++
		}
	}
	return n
}

func printPurge(w io.Writer, res *retention.Result, dryRun bool) {
	for _, o := range res.Recordings {
		what := string(o.Action)
		switch o.Action {
		case retention.Kept:
			continue // the summary counts them
		case retention.Purged:
			if what = "purged"; dryRun {
				what = "would purge"
			}
		}
		fmt.Fprintf(w, "%-11s %s", what, o.File)
		if o.Rec != "" {
			fmt.Fprintf(w, " (rec %s, user %s, ended %s; %d days by %s)", o.Rec, o.User, o.Ended().Format(time.RFC3339), o.Days, o.By)
		}
		if o.Why != "" {
			fmt.Fprintf(w, ": %s", o.Why)
		}
		if o.Hold != nil && o.Hold.Reason != "" {
			fmt.Fprintf(w, ": %s", o.Hold.Reason)
		}
		fmt.Fprintln(w)
	}
	if res.Record != "" {
		// The journal keeps this line: a copy of the chain's head outside
		// the records, to notice the newest record being deleted.
		fmt.Fprintf(w, "record      %s seq %d sha256 %s\n", res.Record, res.Seq, res.RecordSHA256)
	}
	purged := "purged"
	if dryRun {
		purged = "would purge"
	}
	fmt.Fprintf(w, "%s %d, held %d, in use %d, kept %d, errors %d\n", purged, count(res, retention.Purged),
		count(res, retention.Held), count(res, retention.InUse), count(res, retention.Kept), count(res, retention.Failed))
}

func verifyPurgesCmd() *cobra.Command {
	var (
		keyPaths []string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "verify-purges [DIR]",
		Short: "Verify the signed, chained records of what purge deleted",
		Long: `Checks every purge record in DIR (default ` + store.PurgedDir(store.DefaultDir) + `): its signature
against the trusted public keys and its link to the record before it.
States, worst first: MODIFIED (changed after it was signed, not in the
canonical layout, not what the next record linked to, or a seq used twice),
MISSING (the record before it is gone: a record was deleted), UNKNOWN_KEY,
UNSIGNED, OK. Deleting the newest records cannot be seen here: compare the
newest seq with the "record ... seq N sha256 H" lines purge logs (journal).

Exit status: 0 every record OK (or none), 1 some record not OK, 2 the
directory or a key could not be read.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := store.PurgedDir(store.DefaultDir)
			if len(args) == 1 {
				dir = args[0]
			}
			trusted, err := keys.LoadPublic(keyPaths...)
			if err != nil {
				return &exitError{2, err}
			}
			reps, err := store.VerifyPurgeDir(dir, trusted)
			if err != nil {
				return &exitError{2, err}
			}
			return printVerdicts(cmd.OutOrStdout(), reps, asJSON, "no purge records in "+dir, "purge records",
				func(r *store.PurgeRecordReport) (*store.Verdict, string, string) {
					tail := ""
					if r.Seq > 0 {
						tail = fmt.Sprintf(" (seq %d, %s, purged %d, key %s)", r.Seq, r.Time.Format(time.RFC3339), r.Recordings, dash(r.Key))
					}
					return &r.Verdict, r.File, tail
				})
		},
	}
	cmd.Flags().StringSliceVarP(&keyPaths, "key", "k", []string{keyDir}, "trusted public `KEY` or directory of *.pub (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
