// Command vigil-collector is the fleet's central collector: it stores in
// PostgreSQL the recordings that vigil-ship sends from each host
// (rec/fleetapi), administers the hosts allowed to send them, and keeps
// them as long as retention and legal holds say.
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
	"github.com/vigil-rec/vigil/play/collector/devmode"
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
	root.AddCommand(serveCmd(open, stderr), hostsCmd(open), readersCmd(open), holdsCmd(open), purgeCmd(open), purgesCmd(open),
		keygenCmd(), devCmd(stderr), clidoc.Command(root, "8"))
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
	var listen, certFile, keyFile, socket, group string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive the hosts' recordings over HTTPS, and serve readers, until SIGTERM",
		Long: `Receive the recordings vigil-ship sends from the enrolled hosts over HTTPS (TLS 1.3,
hosts known by their client certificate's key), and serve them to readers: over the
same HTTPS port to readers added with "vigil-collector readers add", and with
--read-socket over a local Unix socket to the members of --read-group
(vigil-play --server PATH). Every read is logged with the reader's name or uid.`,
		Args: cobra.NoArgs,
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
			var local net.Listener
			if socket != "" {
				if local, err = server.ListenLocal(socket, group); err != nil {
					l.Close()
					return err
				}
			}
			log := slog.New(slog.NewTextHandler(stderr, nil))
			log.Info("serving", "listen", l.Addr().String(), "read-socket", socket, "version", version.Version)
			go st.FoldEvery(ctx, pgstore.FoldInterval, log)
			return server.ServeAll(ctx, l, local, cert, server.New(st, log), log, 30*time.Second)
		},
	}
	cmd.Flags().StringVar(&socket, "read-socket", "", "also serve readers on the host over the Unix socket `PATH` (mode 0660)")
	cmd.Flags().StringVar(&group, "read-group", "", "the `GROUP` whose members may use --read-socket (default the collector's group)")
	cmd.Flags().StringVar(&listen, "listen", ":8443", "listen on `ADDRESS` (host:port)")
	cmd.Flags().StringVar(&certFile, "cert", "", "the server's certificate chain, PEM `FILE`")
	cmd.Flags().StringVar(&keyFile, "key", "", "the server certificate's private key, PEM `FILE`")
	_ = cmd.MarkFlagRequired("cert")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func devCmd(stderr io.Writer) *cobra.Command {
	var o devmode.Options
	cmd := &cobra.Command{
		Use:   "dev --dir DIR [--listen ADDRESS] [--host NAME]...",
		Short: "Run a whole collector in DIR to try it: its own PostgreSQL, CA and loopback address",
		Long: `Run a collector for trying and testing Vigil's fleet, all in DIR (kept between runs):
a private PostgreSQL cluster made with Debian's postgresql binaries (initdb in DIR/pg,
reachable only through its Unix socket there), a CA (DIR/ca.pem, for vigil-ship --ca and
vigil-play --ca) and a certificate for the collector on loopback, the collector on
--listen and on the local socket DIR/read.sock (vigil-play --server DIR/read.sock), and
a one-time enrollment token for each --host, printed with the vigil-ship enroll command.
As root, PostgreSQL runs as nobody: DIR's parents must let nobody through.
Stops, with PostgreSQL, on SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			o.Out = cmd.OutOrStdout()
			o.Log = slog.New(slog.NewTextHandler(stderr, nil))
			return devmode.Run(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "keep everything in `DIR` (required)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8443", "serve hosts and readers on `ADDRESS`")
	cmd.Flags().StringArrayVar(&o.Hosts, "host", nil, "print an enrollment token for host `NAME` (repeatable)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func readersCmd(open opener) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "readers",
		Short: "Add, list and revoke who may read recordings over HTTPS (vigil-play --server)",
	}
	add := &cobra.Command{
		Use:   "add NAME KEYFILE",
		Short: "Allow the holder of the key in KEYFILE (a public key from vigil-play keygen) to read every recording",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.AddReader(cmd.Context(), st, cmd.OutOrStdout(), args[0], args[1])
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the readers, their state and their key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.ListReaders(cmd.Context(), st, cmd.OutOrStdout())
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Stop NAME from reading recordings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return open.with(cmd.Context(), func(st *pgstore.Store) error {
				return admin.RevokeReader(cmd.Context(), st, cmd.OutOrStdout(), args[0])
			})
		},
	}
	cmd.AddCommand(add, list, revoke)
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
