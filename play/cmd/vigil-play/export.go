package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/cmdtimeline"
	"github.com/vigil-rec/vigil/play/export"
	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/commands"
)

func exportCmd() *cobra.Command {
	var (
		format   string
		rec      string
		lax      bool
		input    bool
		output   string
		source   string
		from, to string
		maxBytes int64
		filtered bool
		sf       serverFlags
		keyPaths []string
	)
	cmd := &cobra.Command{
		Use:   "export --format FORMAT [-m REC] [--lax] [-o FILE] [-r file|journal] FILE|REC",
		Short: "Convert a recording to raw output, text, asciicast or JSON",
		Long: `Convert a recording (FILE, or - for standard input) to another format:

  raw           the recorded terminal output, byte for byte
  asciicast     asciicast v2 (asciinema); invalid UTF-8 is shown as U+FFFD
  asciicast-v3  asciicast v3
  text          the readable transcript: every line the screen showed, without
                escape codes, written when it left the screen (scrolled off,
                erased, reset, the alternate screen left, a smaller window) and
                the screens at the end; rows the output wrapped across are one
                line; a screen wiped out again with the same lines, and runs of
                blank lines, are written once
  json          one decoded event per line: {"time":SECONDS,"kind":"out"|"in"|"window",
                "data":TEXT} or "data_base64" when the data is not valid UTF-8,
                or "cols"/"rows" for window changes; and when the recording
                has a command log (see commands), first its verdict,
                {"time":0,"kind":"commands","state":STATE,...}, then each
                command at its time, {"time":T,"kind":"command","n":N,
                "argv":[...],"cwd":DIR,"user":NAME,"ok":BOOL}, and where
                commands may be missing, {"time":T,"kind":"commands_lost",
                "lost":WHY}; the log is verified against the -k keys

raw, asciicast and json hold the output as recorded, escape sequences and all:
write raw to a terminal only if you trust it (vigil-play play filters what could
be used against the viewer's terminal). Window sizes in asciicast are those
text uses: an unknown size (0x0) keeps the last one, and sizes are cut to
` + fmt.Sprintf("%dx%d", screen.MaxCols, screen.MaxRows) + `.

With --reader journal the argument is a recording id, read from the systemd
journal (TLOG_REC field); with --server, a recording HOST/FILE the collector holds.

For viewers (the web page's player), json takes options:
  --filtered    output as play writes it to a terminal: without what would make
                the terminal answer, set the clipboard or show something else
                than the screen model
  --from T      start with the screen as it was at T, after every event up to T:
                {"time":T,"kind":"screen","cols":C,"rows":R,"data":REPAINT}, where
                REPAINT brings a reset terminal of CxR to that state; then the
                events after T. Goes there through the seeking index (see play)
  --to T        leave out the events after T
  --max-bytes N stop once the output events hold N bytes, where the time
                changes, with {"time":T,"kind":"cut"}: the rest is --from T
                (these spans leave the commands out: viewers ask "commands")
T is [[HH:]MM:]SS[.fff]; --from, --to and --max-bytes need a recording FILE, or
with --server a HOST/FILE, which is fetched whole for each span.

Malformed input stops the export with an error naming the file and line, after
everything valid before it has been written; --lax skips bad lines instead and
reports each on standard error.

Exit status: 0 exported, 1 the input is malformed or could not be read or written,
2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := export.ParseFormat(format)
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			if source != "file" && source != "journal" {
				return &exitError{exitUsageErr, fmt.Errorf("--reader must be file or journal, not %q", source)}
			}
			c, err := sf.client()
			if err != nil {
				return err
			}
			defer c.Close() // nil when files are read
			if c != nil && source != "file" {
				return &exitError{exitUsageErr, fmt.Errorf("--server exports a recording the collector holds: no --reader")}
			}
			span, err := parseSpan(cmd, from, to, maxBytes)
			if err != nil {
				return &exitError{exitUsageErr, err}
			}
			if f != export.JSON && (span != nil || filtered) {
				return &exitError{exitUsageErr, fmt.Errorf("--from, --to, --max-bytes and --filtered go with --format json")}
			}
			if span != nil && (source != "file" || args[0] == "-") {
				return &exitError{exitUsageErr, fmt.Errorf("--from, --to and --max-bytes need a recording FILE or --server HOST/FILE")}
			}
			eo := export.Options{Format: f, Input: input, Filtered: filtered}
			ro := reader.Options{Rec: rec, Lax: lax, Workers: runtime.GOMAXPROCS(0)}
			if span != nil {
				return runExportSpan(cmd, args[0], c, output, *span, eo, ro)
			}
			return runExport(cmd, args[0], source, c, output, keyPaths, eo, ro)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "F", "", "output `FORMAT`: raw, text, asciicast, asciicast-v3 or json (required)")
	fl.StringVarP(&rec, "rec", "m", "", "export only recording `REC` of a file holding several (messages without rec id pass)")
	fl.BoolVar(&lax, "lax", false, "accept message id gaps and skip malformed lines, reporting them")
	fl.BoolVar(&input, "input", false, "include recorded input in asciicast exports (\"i\" events)")
	fl.StringVarP(&output, "output", "o", "-", "write to `FILE` instead of standard output")
	fl.StringVarP(&source, "reader", "r", "file", "read from `READER`: file, or journal (the argument is then a recording id)")
	fl.StringVar(&from, "from", "", "json: start with the screen as it was at time `T`, then the events after it")
	fl.StringVar(&to, "to", "", "json: leave out the events after time `T`")
	fl.Int64Var(&maxBytes, "max-bytes", 0, "json: stop after about `N` bytes of output, with a \"cut\" event saying where")
	fl.BoolVar(&filtered, "filtered", false, "json: the output as play writes it to a terminal (no queries, clipboard or control strings)")
	addKeyFlag(cmd, &keyPaths)
	addServerFlags(cmd, &sf)
	_ = cmd.MarkFlagRequired("format")
	return cmd
}

// parseSpan is the part of the recording --from, --to and --max-bytes ask
// for, nil for all of it.
func parseSpan(cmd *cobra.Command, from, to string, maxBytes int64) (*export.Span, error) {
	fl := cmd.Flags()
	if !fl.Changed("from") && !fl.Changed("to") && !fl.Changed("max-bytes") {
		return nil, nil
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("--max-bytes must be 0 (no limit) or more, not %d", maxBytes)
	}
	span := &export.Span{From: -1, To: -1, MaxBytes: maxBytes}
	var err error
	if fl.Changed("from") {
		if span.From, err = player.ParseTime(from); err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
	}
	if fl.Changed("to") {
		if span.To, err = player.ParseTime(to); err != nil {
			return nil, fmt.Errorf("--to: %w", err)
		}
	}
	return span, nil
}

// runExportSpan exports part of a recording file (--from, --to), or of
// the collector c's recording HOST/FILE: that one is fetched into the
// user's cache first, as play does, since a span starts at a keyframe of
// the seeking index, which needs the whole file.
func runExportSpan(cmd *cobra.Command, path string, c *remote.Client, output string, span export.Span, eo export.Options, ro reader.Options) error {
	stderr := cmd.ErrOrStderr()
	if c != nil {
		local, err := fetchRemote(cmd, c, path)
		if err != nil {
			return &exitError{exitFailed, err}
		}
		path = local
	}
	ro.OnSkip = func(e *reader.Error) { warn(stderr, "skipped %v", e) }
	w, closeOut, err := openOutput(cmd, output)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	err = export.WriteJSONSpan(cmd.Context(), w, path, span, eo, index.Options{Reader: ro},
		func(err error) { warn(stderr, "%v", err) })
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return &exitError{exitFailed, err}
	}
	return nil
}

// openOutput opens where an export goes: standard output for "-", else
// the file output, created.
func openOutput(cmd *cobra.Command, output string) (io.Writer, func() error, error) {
	if output == "-" {
		return cmd.OutOrStdout(), func() error { return nil }, nil
	}
	out, err := os.Create(output)
	if err != nil {
		return nil, nil, err
	}
	return out, out.Close, nil
}

func runExport(cmd *cobra.Command, path, source string, c *remote.Client, output string, keyPaths []string, eo export.Options, ro reader.Options) error {
	stderr := cmd.ErrOrStderr()
	ro.OnSkip = func(e *reader.Error) { warn(stderr, "skipped %v", e) }
	r, closeSrc, err := openSource(cmd, path, source, c, false, ro)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer closeSrc()
	if eo.Format == export.JSON && c == nil && path != "-" {
		eo.Commands = exportCommands(stderr, r, path, source, keyPaths)
	}
	w, closeOut, err := openOutput(cmd, output)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	err = export.Write(w, r, eo)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if n := r.Skipped(); n > 0 {
		warn(stderr, "%s: skipped %d malformed or out-of-order lines", r.Name(), n)
	}
	if err != nil {
		return &exitError{exitFailed, err}
	}
	return nil
}

// exportCommands reads the command log of the recording r reads (a file's
// or the journal's) for a JSON export, with offsets from the recording's
// own start; nil when it has none, or when it cannot be read, which is
// said on stderr.
func exportCommands(stderr io.Writer, r *reader.Reader, path, source string, keyPaths []string) *cmdtimeline.Timeline {
	first, _ := r.Peek() // a read error is the export's to report
	if first == nil || first.Rec == "" {
		return nil
	}
	rec := cmdtimeline.Recording{Name: path, File: path, Rec: first.Rec, Dir: filepath.Dir(path)}
	if source == "journal" {
		rec = cmdtimeline.Journal(first.Rec)
	}
	if !first.Time.IsZero() {
		rec.Start = first.Time.Add(-first.Pos)
	}
	// No log, no keys to load (nor a warning that there are none). An id
	// that cannot name a log has none.
	log, err := commands.Path(rec.Dir, rec.Rec)
	if err != nil {
		return nil
	}
	if _, err := os.Stat(log); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	trusted, err := trustedKeys(keyPaths, stderr)
	if err == nil {
		var tl *cmdtimeline.Timeline
		if tl, err = cmdtimeline.Read(rec, trusted); err == nil {
			return tl
		}
	}
	warn(stderr, "the export leaves the commands out: %v", err)
	return nil
}
