// Command vigil-rec records the terminal I/O of a command (by default the
// user's shell) into a tlog-compatible, hash-chained and signed recording.
// Options and configuration keys are tlog-rec's.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/rec/recorder"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
)

func main() {
	os.Exit(run())
}

func run() int {
	status := 0
	var (
		configPath    string
		configuration bool
		writeRetry    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "vigil-rec [OPTION...] [--] [CMD [ARG...]]",
		Short: "Record terminal I/O of a program or a user shell",
		Long: "Record terminal I/O of a program (default: $SHELL) into a tlog-compatible recording,\n" +
			"hash-chained and signed. Exit status is the program's, or 128+signal.",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&configPath, "config", conf.DefaultRecPath, "read the recorder configuration from `FILE`")
	cmd.Flags().BoolVar(&configuration, "configuration", false, "dump the merged configuration as JSON and exit")
	cmd.Flags().DurationVar(&writeRetry, "write-retry", 30*time.Second,
		"when the recording cannot be written, hold the session and retry for `DURATION` before ending it")
	rf := conf.AddRecFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := conf.LoadRecVars(configPath, conf.RecConfVars, os.Getenv, rf)
		if err != nil {
			status = 1
			return err
		}
		if configuration {
			os.Stdout.Write(append(c.JSON(), '\n'))
			return nil
		}
		status, err = record(c, args, writeRetry)
		return err
	}
	clidoc.AddFlag(cmd, "1")
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "vigil-rec: %v\n", err)
		if status == 0 {
			status = 1
		}
	}
	return status
}

func record(c conf.Rec, args []string, writeRetry time.Duration) (int, error) {
	if len(args) == 0 {
		args = []string{defaultShell()}
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return 127, fmt.Errorf("%s: %w", args[0], err)
	}
	u, err := user.LookupId(fmt.Sprint(os.Getuid()))
	if err != nil {
		return 1, fmt.Errorf("recorded user: %w", err)
	}
	meta, err := recorder.NewMeta(u.Username, "", os.Getenv)
	if err != nil {
		return 1, err
	}
	key, err := recorder.LoadKey(c, os.Stderr)
	if err != nil {
		return 1, err
	}
	s, err := sink.Open(c, store.Meta{Start: time.Now(), Host: meta.Host, User: meta.User, Rec: meta.Rec})
	if err != nil {
		return 1, err
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	res, err := recorder.Run(cmd, recorder.Options{
		Conf: c, Meta: meta, Sink: s, Key: key,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		RetryFor: writeRetry,
	})
	return res.Status, err
}

// defaultShell is $SHELL, else /bin/sh.
func defaultShell() string {
	if s := os.Getenv("SHELL"); s != "" {
		return s
	}
	return "/bin/sh"
}
