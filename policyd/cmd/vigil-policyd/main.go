// Command vigil-policyd decides who is recorded: it serves the policy over
// D-Bus (io.vigil.Policy1) for PAM and vigilctl, and publishes the NSS
// snapshot and socket for libnss_vigil.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

func main() {
	cfg := daemon.DefaultConfig()
	var debug bool
	cmd := &cobra.Command{
		Use:   "vigil-policyd [OPTION...]",
		Short: "Vigil's session-recording policy daemon",
		Long: "Decides per user, group, PAM service and host whether a session is recorded.\n" +
			"Reloads on SIGHUP, on D-Bus Reload and when the policy file or the user database changes.",
		Version:       version.Version,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			return run(cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.PolicyPath, "policy", cfg.PolicyPath, "read the policy from `FILE`")
	f.StringVar(&cfg.SnapshotPath, "snapshot", cfg.SnapshotPath, "publish the NSS snapshot at `FILE`")
	f.StringVar(&cfg.SocketPath, "socket", cfg.SocketPath, "serve NSS lookups on the Unix socket `PATH`")
	f.StringVar(&cfg.ShellsPath, "shells", cfg.ShellsPath, "valid login shells (`FILE`)")
	f.StringSliceVar(&cfg.Hosts, "host", nil, "this host's `NAME`s as rules match them (default: host name and FQDN)")
	f.DurationVar(&cfg.Poll, "poll", cfg.Poll, "check the policy file and user database for changes every `DURATION` (0: never)")
	f.StringVar(&cfg.AccessLog, "access-log", cfg.AccessLog, "keep the access log (RecordAccess) in `DIR`")
	f.StringVar(&cfg.SigningKey, "signing-key", cfg.SigningKey, "sign the access log with the host key in `FILE`")
	f.BoolVar(&debug, "debug", false, "log debug messages")
	clidoc.AddFlag(cmd, "8")
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vigil-policyd:", err)
		os.Exit(1)
	}
}

func run(cfg daemon.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	for _, dir := range []string{filepath.Dir(cfg.SnapshotPath), filepath.Dir(cfg.SocketPath)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	d, err := daemon.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := nssdb.Listen(cfg.SocketPath)
	if err != nil {
		return err
	}
	defer ln.Close()
	srv := &nssdb.Server{Resolver: d.NSSResolver(), Log: cfg.Log}
	go func() {
		if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
			cfg.Log.Error("NSS socket", "err", err)
			stop()
		}
	}()
	// The bus comes last: with Type=dbus, systemd considers the daemon up
	// once the name is taken, and by then the snapshot and socket serve.
	conn, err := d.ServeBus()
	if err != nil {
		return err
	}
	defer conn.Close()
	go d.Poll(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	cfg.Log.Info("vigil-policyd ready", "policy", cfg.PolicyPath, "snapshot", cfg.SnapshotPath, "socket", cfg.SocketPath)
	for {
		select {
		case <-ctx.Done():
			cfg.Log.Info("vigil-policyd stopping")
			return nil
		case <-hup:
			_ = d.Reload("SIGHUP") // a bad file is logged and the old policy stays
		}
	}
}
