// Command vigil-play reads Vigil and tlog recordings: it exports them to
// other formats, verifies their integrity and lists the recordings in a
// directory.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/conf/version"
)

// Exit statuses shared by the subcommands.
const (
	exitOK       = 0
	exitFailed   = 1 // export failed, or a recording did not verify
	exitUsageErr = 2 // bad usage, or an input could not be read
)

// exitError carries a subcommand's exit status. Errors of any other type
// (cobra's flag and argument errors) are usage errors.
type exitError struct {
	code int
	err  error // nil: the subcommand already said what went wrong
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:   "vigil-play COMMAND",
		Short: "Play, export, verify, list and search Vigil and tlog session recordings, and show their commands",
		Long: "vigil-play reads session recordings in tlog's JSON format (versions 2.x), as written by\n" +
			"vigil-rec and tlog-rec: one file per recording, or several recordings in one file.",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(exportCmd(), verifyCmd(), listCmd(), searchCmd(), commandsCmd(), holdCmd(false), holdCmd(true), keygenCmd(), clidoc.Command(root, "1"))
	addPlayCmd(root, args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			warn(stderr, "%v", ee.err)
		}
		return ee.code
	}
	warn(stderr, "%v", err)
	return exitUsageErr
}

// warn writes a message to the auditor, made printable (it may quote a
// recording: play/safetext).
func warn(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "vigil-play: %s\n", safetext.Printable(fmt.Sprintf(format, a...)))
}
