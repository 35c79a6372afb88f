package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
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
	if _, err := os.ReadDir(defaultKeyDir); errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("the trusted keys in %s: permission denied (run as root or as a member of group vigil, or use -k)", defaultKeyDir)
	}
	if m, _ := filepath.Glob(filepath.Join(defaultKeyDir, "*.pub")); len(m) > 0 {
		return keys.LoadPublic(defaultKeyDir)
	}
	fmt.Fprintf(stderr, "vigil-play: no trusted keys in %s (use -k): signatures cannot be checked\n", defaultKeyDir)
	return keys.Set{}, nil
}

func verifyCmd() *cobra.Command {
	var keyPaths []string
	var source string
	var sf serverFlags
	var compare bool
	var compareHost string
	cmd := &cobra.Command{
		Use:   "verify [-k KEYFILE|DIR]... [FILE|DIR...|-r journal [REC...]|--server URL [HOST/FILE...]]",
		Short: "Check recordings' hash chains and signatures",
		Long: `Check the integrity of every recording in each FILE (- for standard input; a
directory stands for its *.jsonl files; default ` + store.DefaultDir + `): the hash chain
over all messages, the ed25519 signatures against the trusted public keys, and
that the recording is complete. With --reader journal, the recordings REC in the
systemd journal (default: all of them; FILE is then journal:TLOG_REC=REC). One
line per recording:

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
A recording's command log (DIR/commands/REC.jsonl, written by vigil-cmdlog) is
verified too, with a line of its own ("FILE: commands of REC: STATE...", as
vigil-play commands prints it); one not OK makes the exit status 1.

With --server, the recordings HOST/FILE a collector holds (default all) are
fetched and verified here, against the -k keys or else the keys the collector
trusts for each host. With --compare, the arguments are local recording FILEs,
each compared line by line with the collector's copy of it: OK when identical (or
when the file only goes on beyond what was shipped), MODIFIED at the first line
that differs (a file changed on its host after it was shipped), TRUNCATED when
the collector holds lines the file no longer has. The copy is the one of the host
the file's first line names, or of --host H (a file whose first line was edited
no longer names its host).

Exit status: 0 every recording is OK, 1 some recording is not OK, 2 usage error or
a file or key could not be read.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if source != "file" && source != "journal" {
				return &exitError{exitUsageErr, fmt.Errorf("--reader must be file or journal, not %q", source)}
			}
			c, err := sf.client()
			if err != nil {
				return err
			}
			defer c.Close() // nil when files are read
			switch {
			case c != nil && source != "file":
				return &exitError{exitUsageErr, errors.New("--server verifies the collector's recordings: no --reader")}
			case compare && (c == nil || len(args) == 0):
				return &exitError{exitUsageErr, errors.New("--compare compares FILEs with a collector's copies: give --server and FILEs")}
			case compareHost != "" && !compare:
				return &exitError{exitUsageErr, errors.New("--host names the host of --compare's FILEs")}
			case compare:
				return compareServer(cmd, c, args, compareHost)
			case c != nil && len(keyPaths) == 0:
				return verifyServer(cmd, c, args, nil)
			}
			trusted, err := trustedKeys(keyPaths, stderr)
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			if c != nil {
				return verifyServer(cmd, c, args, trusted)
			}
			status := exitOK
			sources, missing, err := verifySources(cmd, source, args)
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			if missing {
				status = exitUsageErr
			}
			for _, src := range sources {
				reports, err := verifyOne(cmd, src, trusted)
				status = max(status, printReports(cmd, src.name, reports, err))
				status = max(status, verifyCommandLogs(cmd, src, reports, trusted))
			}
			if status != exitOK {
				return &exitError{code: status}
			}
			return nil
		},
	}
	addKeyFlag(cmd, &keyPaths)
	cmd.Flags().StringVarP(&source, "reader", "r", "file", "read from `READER`: file, or journal (the arguments are then recording ids)")
	addServerFlags(cmd, &sf)
	cmd.Flags().BoolVar(&compare, "compare", false, "with --server, compare each local FILE with the collector's copy of it")
	cmd.Flags().StringVar(&compareHost, "host", "", "with --compare, the copies of host `H` (default: the host each FILE's first line names)")
	return cmd
}

// printReports prints one input's reports as verify does (or, for err,
// warns) and returns the exit status they call for.
func printReports(cmd *cobra.Command, name string, reports []verify.Report, err error) int {
	if err != nil {
		warn(cmd.ErrOrStderr(), "%v", err)
		return exitUsageErr
	}
	stdout, status := cmd.OutOrStdout(), exitOK
	if len(reports) == 0 {
		fmt.Fprintf(stdout, "%s: EMPTY: no messages\n", safetext.Printable(name))
		status = exitFailed
	}
	for _, r := range reports {
		fmt.Fprintf(stdout, "%s: %s\n", safetext.Printable(name), safetext.Printable(r.String()))
		if r.State != verify.OK {
			status = exitFailed
		}
	}
	return status
}

// verifyCommandLogs verifies the command logs (rec/spec/commands.md) of
// the recordings src held, those that have one: beside a file, in the
// default directory for the journal. It prints a line for each, as for a
// recording, and returns the exit status they call for.
func verifyCommandLogs(cmd *cobra.Command, src verifySource, reports []verify.Report, trusted keys.Set) int {
	dir := store.DefaultDir
	switch {
	case src.name == "-":
		return exitOK
	case src.journal == "":
		dir = filepath.Dir(src.name)
	}
	status := exitOK
	for _, r := range reports {
		if store.CheckRecID(r.Rec) != nil {
			continue
		}
		_, rep, err := commands.ReadFile(dir, r.Rec, trusted)
		status = max(status, printCommandLog(cmd, src.name, rep, err))
	}
	return status
}

// printCommandLog prints the verdict on the command log of a recording of
// name, as verify prints one on a recording, and returns the exit status
// it calls for; a recording without one (err is fs.ErrNotExist) prints
// nothing.
func printCommandLog(cmd *cobra.Command, name string, rep commands.Report, err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return exitOK
	case err != nil:
		warn(cmd.ErrOrStderr(), "%v", err)
		return exitUsageErr
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", safetext.Printable(name), safetext.Printable(rep.String()))
	if rep.State != verify.OK {
		return exitFailed
	}
	return exitOK
}

// verifySource is one input of verify: a file (- for standard input), or a
// recording in the journal.
type verifySource struct {
	name    string
	journal string // the recording id, for the journal
}

// verifySources expands verify's arguments: files and directories (default
// the recordings directory), or recording ids in the journal (default all).
// Arguments that cannot be read are reported on stderr and make missing
// true.
func verifySources(cmd *cobra.Command, source string, args []string) (out []verifySource, missing bool, err error) {
	if source == "journal" {
		if len(args) == 0 {
			if args, err = player.JournalRecordings(); err != nil {
				return nil, false, err
			}
		}
		for _, rec := range args {
			out = append(out, verifySource{name: "journal:TLOG_REC=" + rec, journal: rec})
		}
		return out, false, nil
	}
	if len(args) == 0 {
		args = []string{store.DefaultDir}
	}
	var plain []string
	for _, a := range args {
		if a == "-" {
			out = append(out, verifySource{name: a})
			continue
		}
		plain = append(plain, a)
	}
	files, missing := recordingFiles(plain, cmd.ErrOrStderr())
	for _, f := range files {
		out = append(out, verifySource{name: f})
	}
	return out, missing, nil
}

func verifyOne(cmd *cobra.Command, src verifySource, trusted keys.Set) ([]verify.Report, error) {
	var r io.Reader
	switch {
	case src.journal != "":
		j, err := player.OpenJournal(src.journal)
		if err != nil {
			return nil, err
		}
		defer j.Close()
		r = j
	case src.name == "-":
		r = cmd.InOrStdin()
	default:
		f, err := os.Open(src.name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	reports, err := verify.Recordings(r, trusted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	return reports, nil
}
