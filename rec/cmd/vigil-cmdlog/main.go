// Command vigil-cmdlog writes the commands each recorded session runs,
// from the kernel's audit trail, as a signed companion of its recording
// (rec/spec/commands.md).
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/rec/audit"
	"github.com/vigil-rec/vigil/rec/cmdlog"
	"github.com/vigil-rec/vigil/rec/keys"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var (
		confPath, recConf, runDir string
		rules                     bool
	)
	root := &cobra.Command{
		Use:   "vigil-cmdlog [OPTION...]",
		Short: "Write the commands of recorded sessions beside their recordings",
		Long: "Reads the kernel's exec events (as the audit daemon when none runs, else beside auditd)\n" +
			"and writes those of each recorded session, bound by its audit session, to\n" +
			"commands/<rec>.jsonl in the recordings directory: signed, hash-chained, with secrets\n" +
			"in arguments redacted (" + conf.DefaultCommandsPath + ").",
		Version:       version.Version,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conf.LoadCommands(confPath)
			if err != nil {
				return err
			}
			rc, err := conf.LoadRec(recConf, func(string) string { return "" }, nil)
			if err != nil {
				return err
			}
			red, err := cmdlog.NewRedactor(c.Redact, c.RedactAfter)
			if err != nil {
				return err
			}
			key, err := loadKey(rc.Sign.Key, log)
			if err != nil {
				return err
			}
			if rules {
				added, err := audit.AddRules()
				if err != nil {
					return fmt.Errorf("audit rules: %w", err)
				}
				defer func() {
					if _, err := audit.DeleteRules(added); err != nil {
						log.Error("audit rules", "err", err)
					}
				}()
			}
			r, err := audit.Open(audit.Options{Mode: audit.ModeAuto})
			if err != nil {
				return err
			}
			defer r.Close()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			recDir := cmdlog.RecDir(c, rc)
			log.Info("vigil-cmdlog running", "dir", recDir, "mode", r.Mode().String(), "signed", key != nil)
			cfg := cmdlog.Config{RecDir: recDir, RunDir: runDir, Key: key, Redactor: red, Log: log}
			if key != nil {
				cfg.KeyFile = rc.Sign.Key
			}
			l := cmdlog.New(cfg)
			if err := l.Run(ctx, r, 500*time.Millisecond); err != nil {
				return err
			}
			log.Info("vigil-cmdlog stopping")
			return nil
		},
	}
	f := root.Flags()
	f.StringVar(&confPath, "config", conf.DefaultCommandsPath, "read the settings from `FILE`")
	f.StringVar(&recConf, "rec-config", conf.DefaultRecPath, "the recorder's settings `FILE`: recordings directory and signing key")
	f.StringVar(&runDir, "run-dir", "/run/vigil", "where recorders register their recordings (`DIR`)")
	f.BoolVar(&rules, "rules", true, "add Vigil's audit rules while running (and remove those it added on exit); --rules=false where auditd loads them")
	clidoc.AddFlag(root, "8")
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vigil-cmdlog:", err)
		os.Exit(1)
	}
}

// loadKey loads the signing key; without the default key file the logs
// are written unsigned, as the recordings are.
func loadKey(path string, log *slog.Logger) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, nil
	}
	k, err := keys.LoadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) && path == conf.DefaultRec().Sign.Key {
		log.Warn("no signing key: command logs are written unsigned", "key", path)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, nil
}
