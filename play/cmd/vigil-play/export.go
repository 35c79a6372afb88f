package main

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/play/export"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/play/screen"
)

func exportCmd() *cobra.Command {
	var (
		format string
		rec    string
		lax    bool
		input  bool
		output string
		source string
		sf     serverFlags
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
                or "cols"/"rows" for window changes

raw, asciicast and json hold the output as recorded, escape sequences and all:
write raw to a terminal only if you trust it (vigil-play play filters what could
be used against the viewer's terminal). Window sizes in asciicast are those
text uses: an unknown size (0x0) keeps the last one, and sizes are cut to
` + fmt.Sprintf("%dx%d", screen.MaxCols, screen.MaxRows) + `.

With --reader journal the argument is a recording id, read from the systemd
journal (TLOG_REC field); with --server, a recording HOST/FILE the collector holds.

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
			return runExport(cmd, args[0], source, c, output, export.Options{Format: f, Input: input},
				reader.Options{Rec: rec, Lax: lax, Workers: runtime.GOMAXPROCS(0)})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "F", "", "output `FORMAT`: raw, text, asciicast, asciicast-v3 or json (required)")
	fl.StringVarP(&rec, "rec", "m", "", "export only recording `REC` of a file holding several (messages without rec id pass)")
	fl.BoolVar(&lax, "lax", false, "accept message id gaps and skip malformed lines, reporting them")
	fl.BoolVar(&input, "input", false, "include recorded input in asciicast exports (\"i\" events)")
	fl.StringVarP(&output, "output", "o", "-", "write to `FILE` instead of standard output")
	fl.StringVarP(&source, "reader", "r", "file", "read from `READER`: file, or journal (the argument is then a recording id)")
	addServerFlags(cmd, &sf)
	_ = cmd.MarkFlagRequired("format")
	return cmd
}

func runExport(cmd *cobra.Command, path, source string, c *remote.Client, output string, eo export.Options, ro reader.Options) error {
	stderr := cmd.ErrOrStderr()
	ro.OnSkip = func(e *reader.Error) { warn(stderr, "skipped %v", e) }
	r, closeSrc, err := openSource(cmd, path, source, c, false, ro)
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer closeSrc()
	var w io.Writer = cmd.OutOrStdout()
	var out *os.File
	if output != "-" {
		if out, err = os.Create(output); err != nil {
			return &exitError{exitFailed, err}
		}
		w = out
	}
	err = export.Write(w, r, eo)
	if out != nil {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if n := r.Skipped(); n > 0 {
		warn(stderr, "%s: skipped %d malformed or out-of-order lines", r.Name(), n)
	}
	if err != nil {
		return &exitError{exitFailed, err}
	}
	return nil
}
