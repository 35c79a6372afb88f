package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/hostinfo"
	"github.com/vigil-rec/vigil/play/collector/admin"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/keys"
)

// defaultPurgeKey signs the purge records; its public key, defaultPurgeKey
// + ".pub", verifies them.
const defaultPurgeKey = "/etc/vigil/collector/purge.key"

func holdsCmd(open opener) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "holds",
		Short: "Put recordings under legal hold, release and list them: purge keeps held recordings",
	}
	var reason string
	add := &cobra.Command{
		Use:   "add HOST/FILE --reason TEXT",
		Short: "Put the recording HOST/FILE (as vigil-play list --server names it) under legal hold",
		Long: `Put the recording HOST/FILE (as vigil-play list --server names it) under a legal
hold: purge keeps it, whatever its age, until it is released. The hold records who
placed it (the user, and the login user behind sudo or su), when and why.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.AddHold(cmd.Context(), st, cmd.OutOrStdout(), args[0], reason, hostinfo.Caller())
			})
		},
	}
	add.Flags().StringVar(&reason, "reason", "", "why it is held (case number, request): `TEXT`")
	_ = add.MarkFlagRequired("reason")
	release := &cobra.Command{
		Use:   "release HOST/FILE",
		Short: "Lift the legal hold on HOST/FILE: purge may delete it again (the hold stays listed with holds list --all)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.ReleaseHold(cmd.Context(), st, cmd.OutOrStdout(), args[0], hostinfo.Caller())
			})
		},
	}
	var all bool
	list := &cobra.Command{
		Use:   "list [--all]",
		Short: "List the holds in force, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.ListHolds(cmd.Context(), st, cmd.OutOrStdout(), all)
			})
		},
	}
	list.Flags().BoolVar(&all, "all", false, "the released holds too")
	cmd.AddCommand(add, release, list)
	return cmd
}

func purgeCmd(open opener) *cobra.Command {
	var olderThan, keyFile string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "purge --older-than DURATION [--dry-run] [--sign-key FILE]",
		Short: "Delete the recordings of the months that ended more than DURATION ago, except held ones",
		Long: `Delete the recordings of the months (UTC, by when each recording started) that ended
more than DURATION ago (90d, or a Go duration such as 2160h), with their bytes and
search texts, and write a purge record listing each one (host, file, rec, bytes, last
chain hash), signed with the key in --sign-key (vigil-collector keygen); purges list
shows and verifies the records. Recordings under legal hold (holds add) are kept, and
so are recordings appended to since the cutoff (still being written, or shipped late);
a month with none of those loses its partition, else its other recordings are deleted
one by one. It all happens in one transaction: a failure deletes nothing. Appends
from hosts go on meanwhile. The current month is never purged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			age, err := parseAge(olderThan)
			if err != nil {
				return fmt.Errorf("--older-than: %w", err)
			}
			o := pgstore.PurgeOptions{Cutoff: time.Now().Add(-age), DryRun: dryRun,
				Collector: hostinfo.FQDN(2 * time.Second), By: hostinfo.Caller()}
			if !dryRun {
				// Before the database: without a key nothing can be purged.
				if o.Key, err = keys.LoadPrivate(keyFile); err != nil {
					return fmt.Errorf("--sign-key: %w", err)
				}
			}
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.Purge(cmd.Context(), st, cmd.OutOrStdout(), o)
			})
		},
	}
	cmd.Flags().StringVar(&olderThan, "older-than", "", "purge the months that ended more than `DURATION` ago: Nd (days) or a Go duration (required)")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "show what would be purged; delete and record nothing")
	cmd.Flags().StringVar(&keyFile, "sign-key", defaultPurgeKey, "the private key `FILE` that signs the purge record")
	_ = cmd.MarkFlagRequired("older-than")
	return cmd
}

// parseAge reads a retention: N days as "Nd", or a Go duration; not
// negative.
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q is not a number of days (Nd)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is neither Nd (days) nor a Go duration such as 2160h", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

func purgesCmd(open opener) *cobra.Command {
	cmd := &cobra.Command{Use: "purges", Short: "List the purge records and verify them"}
	var keyPaths []string
	var recordings bool
	list := &cobra.Command{
		Use:   "list [--key KEY]... [--recordings]",
		Short: "List the purge records, each verified: OK, MODIFIED, MISSING, UNKNOWN_KEY or UNSIGNED",
		Long: `List the purge records by seq, each verified against the trusted public keys (--key,
default ` + defaultPurgeKey + `.pub): its signature, its columns against what it
says, and its link to the record before it. MODIFIED: changed since it was signed
(or the record after it says so); MISSING: the record before it is gone; UNKNOWN_KEY:
signed by a key not trusted; UNSIGNED. Exit status 1 when a record is not OK.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			trusted, err := keys.LoadPublic(keyPaths...)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				bad, err := admin.ListPurges(cmd.Context(), st, cmd.OutOrStdout(), trusted, recordings)
				if err == nil && bad > 0 {
					err = fmt.Errorf("%d purge record(s) do not verify (above)", bad)
				}
				return err
			})
		},
	}
	list.Flags().StringArrayVarP(&keyPaths, "key", "k", []string{defaultPurgeKey + ".pub"},
		"trusted public `KEY` file, or directory of *.pub (repeatable)")
	list.Flags().BoolVarP(&recordings, "recordings", "r", false, "also list the recordings each record says were purged")
	host := &cobra.Command{
		Use:   "host HOST",
		Short: "List the purge records HOST shipped, each verified as on the host",
		Long: `List the purge records HOST's vigil-ship sent (its purged/ directory), each verified
against the host's enrolled keys (revoked ones too: old records were signed with them)
and its link to the record before it, as vigilctl verify-purges does on the host. The
collector's copies stay when the host's are deleted or rewritten: MISSING here means
a record the host never shipped. Exit status 1 when a record is not OK.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				bad, err := admin.ListHostPurges(cmd.Context(), st, cmd.OutOrStdout(), args[0])
				if err == nil && bad > 0 {
					err = fmt.Errorf("%d purge record(s) of host %s do not verify (above)", bad, args[0])
				}
				return err
			})
		},
	}
	cmd.AddCommand(list, host)
	return cmd
}

func keygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen FILE",
		Short: "Make the key that signs purge records: FILE (private, 0640) and FILE.pub",
		Long: `Make a new ed25519 key that signs the purge records (purge --sign-key, default
` + defaultPurgeKey + `): the private key in FILE, mode 0640 (give its group to whoever
runs purge), and the public key in FILE.pub, which verifies the records (purges list
--key). An existing file is never replaced.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return admin.Keygen(cmd.OutOrStdout(), args[0])
		},
	}
}
