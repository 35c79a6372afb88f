package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

// defaultKeyDir holds the trusted public keys (*.pub) when no -k is given.
const defaultKeyDir = "/etc/vigil/keys"

func addKeyFlag(cmd *cobra.Command, dst *[]string) {
	cmd.Flags().StringArrayVarP(dst, "key", "k", nil,
		"trust the public key in `KEYFILE`, or every *.pub in a directory (repeatable; default "+defaultKeyDir+"/*.pub)")
}

// trustedKeys loads the -k keys, or the default directory's. A missing or
// empty default directory is not an error: signed recordings then show as
// UNKNOWN_KEY, which the warning explains.
func trustedKeys(paths []string, stderr io.Writer) (keys.Set, error) {
	if len(paths) > 0 {
		return keys.LoadPublic(paths...)
	}
	if m, _ := filepath.Glob(filepath.Join(defaultKeyDir, "*.pub")); len(m) > 0 {
		return keys.LoadPublic(defaultKeyDir)
	}
	fmt.Fprintf(stderr, "vigil-play: no trusted keys in %s (use -k): signatures cannot be checked\n", defaultKeyDir)
	return keys.Set{}, nil
}

func verifyCmd() *cobra.Command {
	var keyPaths []string
	cmd := &cobra.Command{
		Use:   "verify [-k KEYFILE|DIR]... FILE...",
		Short: "Check recordings' hash chains and signatures",
		Long: `Check the integrity of every recording in each FILE (- for standard input): the
hash chain over all messages, the ed25519 signatures against the trusted public
keys, and that the recording is complete. One line per recording:

  FILE: recording REC: STATE[ at line N (id I, seq S): DETAIL]; M messages[, keys ...]

STATE is one of
  OK           authentic and complete
  MODIFIED     a message differs from what was signed, or is not in canonical form
  REORDERED    messages were moved, swapped or duplicated
  MISSING      messages were deleted
  TRUNCATED    the end of the recording is missing (or the recorder was killed)
  UNKNOWN_KEY  signed by a key that is not trusted
  UNSIGNED     no signatures (a plain tlog recording, or a recorder without key)
Only OK means authentic and complete. A file without any message is reported EMPTY.

Exit status: 0 every recording is OK, 1 some recording is not OK, 2 usage error or
a file or key could not be read.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			trusted, err := trustedKeys(keyPaths, stderr)
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			status := exitOK
			for _, path := range args {
				reports, err := verifyFile(cmd, path, trusted)
				if err != nil {
					warn(stderr, "%v", err)
					status = exitUsageErr
					continue
				}
				if len(reports) == 0 {
					fmt.Fprintf(stdout, "%s: EMPTY: no messages\n", printable(path))
					status = max(status, exitFailed)
				}
				for _, r := range reports {
					fmt.Fprintf(stdout, "%s: %s\n", printable(path), printable(r.String()))
					if r.State != verify.OK {
						status = max(status, exitFailed)
					}
				}
			}
			if status != exitOK {
				return &exitError{code: status}
			}
			return nil
		},
	}
	addKeyFlag(cmd, &keyPaths)
	return cmd
}

func verifyFile(cmd *cobra.Command, path string, trusted keys.Set) ([]verify.Report, error) {
	if path == "-" {
		return verify.Recordings(cmd.InOrStdin(), trusted)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reports, err := verify.Recordings(f, trusted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reports, nil
}
