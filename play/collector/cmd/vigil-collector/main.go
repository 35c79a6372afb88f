// Command vigil-collector is the fleet's central collector: it stores in
// PostgreSQL the recordings that vigil-ship sends from each host
// (rec/fleetapi), and administers the hosts allowed to send them.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/play/collector/admin"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/server"
)

// dbEnv names the database when --db is not given: a connection string
// may hold a password, which a command line shows to every user.
const dbEnv = "VIGIL_COLLECTOR_DB"

// urlEnv is the collector's URL as hosts reach it, when --url is not given.
const urlEnv = "VIGIL_COLLECTOR_URL"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var db string
	root := &cobra.Command{
		Use:           "vigil-collector COMMAND",
		Short:         "Collect the recordings of a fleet of hosts into PostgreSQL",
		Long:          "vigil-collector receives the recordings vigil-ship sends from each enrolled host and stores them in PostgreSQL.",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// The default is read when used, not shown in --help: it may hold a
	// password.
	root.PersistentFlags().StringVar(&db, "db", "",
		"the PostgreSQL database, a connection `STRING` (default $"+dbEnv+")")
	open := func(ctx context.Context) (*pgstore.Store, error) {
		if db == "" {
			db = os.Getenv(dbEnv)
		}
		if db == "" {
			return nil, fmt.Errorf("no database: give --db or set $%s", dbEnv)
		}
		return pgstore.Open(ctx, db)
	}
	root.AddCommand(serveCmd(open, stderr), hostsCmd(open), clidoc.Command(root, "8"))
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "vigil-collector: %v\n", err)
		return 1
	}
	return 0
}

type opener func(context.Context) (*pgstore.Store, error)

// with runs f on a store that open opens and that is closed after.
func (open opener) with(ctx context.Context, f func(*pgstore.Store) error) error {
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

func serveCmd(open opener, stderr io.Writer) *cobra.Command {
	var listen, certFile, keyFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive the hosts' recordings over HTTPS until SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			st, err := open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(stderr, nil))
			log.Info("serving", "listen", l.Addr().String(), "version", version.Version)
			return server.Serve(ctx, l, cert, server.New(st, log), log, 30*time.Second)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":8443", "listen on `ADDRESS` (host:port)")
	cmd.Flags().StringVar(&certFile, "cert", "", "the server's certificate chain, PEM `FILE`")
	cmd.Flags().StringVar(&keyFile, "key", "", "the server certificate's private key, PEM `FILE`")
	_ = cmd.MarkFlagRequired("cert")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func hostsCmd(open opener) *cobra.Command {
	cmd := &cobra.Command{Use: "hosts", Short: "Add, list and revoke the hosts allowed to send recordings"}
	var ttl time.Duration
	var url string
	add := &cobra.Command{
		Use:   "add HOST",
		Short: "Issue a one-time token with which HOST enrolls its signing key",
		Long: "Issue a one-time token with which HOST (the name its recordings give) enrolls its signing key,\n" +
			"and print the command to run on HOST. Adding an enrolled host again issues a token for another key.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				url = os.Getenv(urlEnv)
			}
			if url == "" {
				name, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("no --url, and no host name: %w", err)
				}
				url = "https://" + name + ":8443"
			}
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.AddHost(cmd.Context(), st, cmd.OutOrStdout(), args[0], ttl, url)
			})
		},
	}
	add.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "the token is valid for `DURATION`")
	add.Flags().StringVar(&url, "url", "",
		"the collector's `URL` as hosts reach it, for the printed command (default $"+urlEnv+", else https://THIS-HOST:8443)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the hosts, their state and their keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.ListHosts(cmd.Context(), st, cmd.OutOrStdout())
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke HOST",
		Short: "Stop accepting recordings from HOST; those stored stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.RevokeHost(cmd.Context(), st, cmd.OutOrStdout(), args[0])
			})
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}
