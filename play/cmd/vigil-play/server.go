package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/listing"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
	"github.com/vigil-rec/vigil/rec/verify"
)

// serverEnv names the collector when --server is not given.
const serverEnv = "VIGIL_SERVER"

// serverFlags say which collector to read from, and how.
type serverFlags struct {
	url string
	remote.Options
}

// addServerFlags adds --server, --ca and --identity to cmd.
func addServerFlags(cmd *cobra.Command, sf *serverFlags) {
	fl := cmd.Flags()
	fl.StringVar(&sf.url, "server", "",
		"read the recordings a collector holds (vigil-collector): its https://HOST:PORT `URL`, or the path of its local socket (default $"+serverEnv+")")
	fl.StringVar(&sf.CA, "ca", "", "with an https --server, the collector's CA certificates, PEM `FILE` (default the system's)")
	fl.StringVar(&sf.Identity, "identity", "", "with an https --server, your reader key `FILE` (default "+remote.DefaultIdentity()+")")
}

// named reports whether sf names a collector, by --server or $VIGIL_SERVER.
func (sf *serverFlags) named() bool {
	if sf.url == "" {
		sf.url = os.Getenv(serverEnv)
	}
	return sf.url != ""
}

// client returns the client of the collector sf names, or nil when it
// names none (files are read).
func (sf *serverFlags) client() (*remote.Client, error) {
	if !sf.named() {
		return nil, nil
	}
	c, err := remote.Dial(sf.url, sf.Options)
	if err != nil {
		return nil, &exitError{exitUsageErr, err}
	}
	return c, nil
}

func keygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen [FILE]",
		Short: "Make your reader key, for reading from a collector over HTTPS",
		Long: `Make a new ed25519 key with which vigil-play proves who you are to a collector
(--server https://...): the private key in FILE (default ` + remote.DefaultIdentity() + `,
mode 0600) and the public key in FILE.pub, which the collector's admin adds with
"vigil-collector readers add YOUR-NAME FILE.pub". An existing FILE is never replaced.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := remote.DefaultIdentity()
			if len(args) == 1 {
				path = args[0]
			}
			pub, err := remote.Keygen(path)
			if err != nil {
				return &exitError{exitFailed, err}
			}
			abs, _ := filepath.Abs(pub)
			fmt.Fprintf(cmd.OutOrStdout(), "Your reader key is %s.\nGive %s to the collector's admin, who runs:\n\n  vigil-collector readers add YOUR-NAME %s\n",
				path, abs, filepath.Base(pub))
			return nil
		},
	}
}

// listServer lists the recordings the collector holds, as runList lists
// files: each one's name is HOST/FILE, which the other commands take with
// --server.
func listServer(cmd *cobra.Command, c *remote.Client, f listing.Filter, o listOptions) error {
	recs, err := c.Recordings(cmd.Context(), remote.Filter{Host: f.Host, User: f.User, Rec: f.Rec})
	if err != nil {
		return &exitError{exitUsageErr, err}
	}
	rows := make([]listing.Row, 0, len(recs))
	for _, r := range recs {
		row := listing.Row{Summary: store.Summary{File: remote.Name(r.Host, r.File), Rec: r.Rec, Duration: r.Duration,
			User: r.User, Host: r.Host, Term: r.Term, Size: r.Size, State: r.State, Detail: r.Detail}}
		if r.Start != nil {
			row.Start = *r.Start
		}
		if r.End != nil {
			row.End = *r.End
		}
		if r.Hold != nil {
			hold := *r.Hold
			hold.File = row.File
			row.Hold = &hold
		}
		if f.Match(&row) {
			rows = append(rows, row)
		}
	}
	if err := listing.Print(cmd.OutOrStdout(), o.page.Cut(rows), o.asJSON); err != nil {
		return &exitError{exitUsageErr, err}
	}
	return nil
}

// searchServer has the collector search the recordings it holds, and
// prints the hits as search does for files.
func searchServer(cmd *cobra.Command, c *remote.Client, q remote.Query, asJSON bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var first *search.Hit
	status := exitFailed
	err := c.Search(cmd.Context(), q, func(h fleetapi.Hit) error {
		name := remote.Name(h.Host, h.File)
		if h.Error != "" {
			// A recording not searched to its end, as a file search
			// reports one: the others still are.
			warn(stderr, "%s: %s", name, h.Error)
			status = exitUsageErr
			return nil
		}
		hit := search.NewHit(name, name, h.Rec, h.Seconds, h.Source, h.Line)
		if first == nil {
			first = &hit
		}
		if err := search.Print(stdout, []search.Hit{hit}, asJSON); err != nil {
			return &exitError{exitUsageErr, fmt.Errorf("write: %w", err)}
		}
		return nil
	})
	if err != nil {
		return &exitError{exitUsageErr, err}
	}
	if first == nil {
		return &exitError{code: status}
	}
	if !asJSON {
		warn(stderr, "to replay a hit: vigil-play play --server URL RECORDING --goto OFFSET, e.g. vigil-play play --server %s %s --goto %s",
			safetext.Printable(c.String()), first.Name, first.Offset)
	}
	if status == exitUsageErr {
		return &exitError{code: status}
	}
	return nil
}

// verifyServer verifies the recordings HOST/FILE in args (default all the
// collector holds) as they are stored there, against trusted keys, or when
// there are none, against the keys the collector trusts for each host.
func verifyServer(cmd *cobra.Command, c *remote.Client, args []string, trusted keys.Set) error {
	if len(args) == 0 {
		recs, err := c.Recordings(cmd.Context(), remote.Filter{})
		if err != nil {
			return &exitError{exitUsageErr, err}
		}
		for _, r := range recs {
			args = append(args, remote.Name(r.Host, r.File))
		}
	}
	hostKeys := map[string]keys.Set{}
	status := exitOK
	for _, name := range args {
		reports, err := verifyRemote(cmd, c, name, trusted, hostKeys)
		status = max(status, printReports(cmd, name, reports, err))
		if err == nil {
			status = max(status, verifyRemoteCommandLogs(cmd, c, name, reports, trusted, hostKeys))
		}
	}
	if status != exitOK {
		return &exitError{code: status}
	}
	return nil
}

// verifyRemoteCommandLogs verifies the command logs the collector holds
// of the recordings of its file name, as verify does a host's.
func verifyRemoteCommandLogs(cmd *cobra.Command, c *remote.Client, name string, reports []verify.Report, trusted keys.Set, hostKeys map[string]keys.Set) int {
	host, _, _ := remote.ParseName(name)
	ks, err := remoteKeys(cmd, c, host, trusted, hostKeys)
	if err != nil {
		warn(cmd.ErrOrStderr(), "%v", err)
		return exitUsageErr
	}
	status := exitOK
	for _, r := range reports {
		if r.Rec == "" {
			continue
		}
		data, err := c.CommandLog(cmd.Context(), host, r.Rec)
		var rep commands.Report
		if err == nil {
			_, rep = commands.Verify(data, r.Rec, ks)
		}
		status = max(status, printCommandLog(cmd, name, rep, err))
	}
	return status
}

// remoteKeys is trusted when given, else the keys the collector trusts for
// host (asked once per host, kept in hostKeys).
func remoteKeys(cmd *cobra.Command, c *remote.Client, host string, trusted keys.Set, hostKeys map[string]keys.Set) (keys.Set, error) {
	if trusted != nil {
		return trusted, nil
	}
	if ks := hostKeys[host]; ks != nil {
		return ks, nil
	}
	ks, err := c.Keys(cmd.Context(), host)
	if err != nil {
		return nil, err
	}
	hostKeys[host] = ks
	return ks, nil
}

func verifyRemote(cmd *cobra.Command, c *remote.Client, name string, trusted keys.Set, hostKeys map[string]keys.Set) ([]verify.Report, error) {
	host, file, err := remote.ParseName(name)
	if err != nil {
		return nil, err
	}
	ks, err := remoteKeys(cmd, c, host, trusted, hostKeys)
	if err != nil {
		return nil, err
	}
	body, err := c.Open(cmd.Context(), host, file, 0)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	reports, err := verify.Recordings(body, ks)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return reports, nil
}

// openRemote opens a collector's recording HOST/FILE to read once through.
func openRemote(cmd *cobra.Command, c *remote.Client, name string, follow bool) (io.ReadCloser, error) {
	host, file, err := remote.ParseName(name)
	if err != nil {
		return nil, err
	}
	if follow {
		return c.Follow(cmd.Context(), host, file), nil
	}
	return c.Open(cmd.Context(), host, file, 0)
}

// fetchRemote brings a collector's recording HOST/FILE into the user's
// cache (remote.Fetch), where play and each span export seek in it with
// an index, and returns the copy's path: a later call fetches only what
// the collector stored since.
func fetchRemote(cmd *cobra.Command, c *remote.Client, name string) (string, error) {
	host, file, err := remote.ParseName(name)
	if err != nil {
		return "", err
	}
	dir, err := remote.CacheDir()
	if err != nil {
		return "", err
	}
	return c.Fetch(cmd.Context(), dir, host, file)
}

// compareServer compares each local recording file in paths with the
// collector's copy of it (the same name, of the host the file's first
// message names), line by line: a file changed on its host after it was
// shipped no longer matches what the collector stored as it arrived.
func compareServer(cmd *cobra.Command, c *remote.Client, paths []string, host string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	status := exitOK
	for _, path := range paths {
		verdict, err := compareOne(cmd, c, path, host)
		if err != nil {
			warn(stderr, "%s: %v", path, err)
			status = exitUsageErr
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", safetext.Printable(path), safetext.Printable(verdict))
		if !strings.HasPrefix(verdict, "OK") {
			status = max(status, exitFailed)
		}
	}
	if status != exitOK {
		return &exitError{code: status}
	}
	return nil
}

func compareOne(cmd *cobra.Command, c *remote.Client, path, host string) (string, error) {
	hint := ""
	if host == "" {
		hint = " (the host the file's first line names; --host names another)"
		head, err := store.ReadHead(path)
		if err == nil && head.Host == "" {
			err = errors.New("no message names the recording's host")
		}
		if err != nil {
			return "", fmt.Errorf("%w (--host names the host)", err)
		}
		host = head.Host
	}
	name := remote.Name(host, filepath.Base(path))
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	body, err := c.Open(cmd.Context(), host, filepath.Base(path), 0)
	if err != nil {
		return "", fmt.Errorf("%w%s", err, hint)
	}
	defer body.Close()
	local, stored := tlog.NewLineReader(f, 64<<10, tlog.MaxLine), tlog.NewLineReader(body, 64<<10, tlog.MaxLine)
	var size int64
	for {
		a, errA := local.ReadLine()
		b, errB := stored.ReadLine()
		switch {
		case errA != nil && errA != io.EOF:
			return "", errA
		case errB != nil && errB != io.EOF:
			return "", fmt.Errorf("the collector's copy %s: %w", name, errB)
		case errA == io.EOF && errB == io.EOF:
			return fmt.Sprintf("OK: identical to the collector's copy %s (%d bytes)", name, size), nil
		case errA == io.EOF:
			return fmt.Sprintf("TRUNCATED after line %d: the collector's copy %s goes on", local.Line, name), nil
		case errB == io.EOF:
			return fmt.Sprintf("OK as far as shipped: the first %d lines (%d bytes) are the collector's copy %s; the rest is not there yet",
				stored.Line, size, name), nil
		case !bytes.Equal(a, b):
			return fmt.Sprintf("MODIFIED at line %d: differs from the collector's copy %s", local.Line, name), nil
		}
		size += int64(len(a))
	}
}
