// Command vigil-ship sends this host's recordings to the collector
// (vigil-collector) as they are written, authenticated by the recorder's
// signing key; `vigil-ship enroll` enrolls that key with a one-time token.
package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/clidoc"
	"github.com/vigil-rec/vigil/conf/hostinfo"
	"github.com/vigil-rec/vigil/conf/version"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/ship"
	"github.com/vigil-rec/vigil/rec/store"
)

// hostWithin bounds the host name lookup: longer than the recorder's,
// which must not hold up a login, as a daemon can wait for the FQDN the
// recorder writes whenever DNS answers in time.
const hostWithin = 2 * time.Second

// connection is what both commands need to reach the collector.
type connection struct {
	collector, ca, keyPath, host string
}

func (c *connection) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.collector, "collector", "", "the collector's `URL` (https://HOST:PORT)")
	f.StringVar(&c.ca, "ca", "", "check the collector's certificate against the CA certificates in `FILE` (PEM)")
	f.StringVar(&c.keyPath, "key", conf.DefaultRec().Sign.Key, "the recorder's signing key `FILE`, which authenticates this host")
	f.StringVar(&c.host, "host", "", "this host's `NAME` as its recordings give it (default: its FQDN, as the recorder's)")
	_ = cmd.MarkFlagRequired("collector")
	_ = cmd.MarkFlagRequired("ca")
}

// client loads the key and makes the collector's client.
func (c *connection) client() (ship.Options, ed25519.PrivateKey, error) {
	key, err := keys.LoadPrivate(c.keyPath)
	if err != nil {
		return ship.Options{}, nil, err
	}
	if c.host == "" {
		c.host = hostinfo.FQDN(hostWithin)
	}
	hc, err := fleetapi.NewClient(c.ca, key, c.host)
	if err != nil {
		return ship.Options{}, nil, err
	}
	return ship.Options{Collector: c.collector, Client: hc}, key, nil
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var (
		c    connection
		dir  string
		once bool
	)
	root := &cobra.Command{
		Use:   "vigil-ship [OPTION...]",
		Short: "Send this host's recordings to the collector",
		Long: "Follows the recording directory and sends the complete lines of every recording file\n" +
			"to the collector as they are written; the files are the spool while it is unreachable.\n" +
			"Also sends each purge record (purged/) once, and the legal holds (holds/) whenever\n" +
			"they change: a host's hold keeps the recording from the collector's purge too.",
		Version:       version.Version,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt, _, err := c.client()
			if err != nil {
				return err
			}
			opt.Dir, opt.Log = dir, log
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			s := ship.New(opt)
			if once {
				return s.Once(ctx)
			}
			log.Info("vigil-ship shipping", "dir", dir, "collector", c.collector, "host", c.host)
			if err := s.Run(ctx); ctx.Err() == nil {
				return err
			}
			log.Info("vigil-ship stopping")
			return nil
		},
	}
	root.Flags().StringVar(&dir, "dir", store.DefaultDir, "ship the recordings in `DIR`")
	root.Flags().BoolVar(&once, "once", false, "ship what the files hold now, wait for the collector to acknowledge it all, and exit")
	c.flags(root)

	var ec connection
	var token string
	enroll := &cobra.Command{
		Use:   "enroll --collector URL --ca FILE --token TOKEN [OPTION...]",
		Short: "Enroll this host's signing key with the collector",
		Long: "Enrolls the recorder's signing key for this host with the one-time token that\n" +
			"`vigil-collector hosts add HOST` printed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt, key, err := ec.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			reply, err := ship.Enroll(ctx, opt.Client, ec.collector, ec.host, token, key.Public().(ed25519.PublicKey))
			if err != nil {
				return err
			}
			log.Info("enrolled", "host", reply.Host, "key", reply.KeyID)
			return nil
		},
	}
	ec.flags(enroll)
	enroll.Flags().StringVar(&token, "token", "", "the one-time enrollment `TOKEN`")
	_ = enroll.MarkFlagRequired("token")
	root.AddCommand(enroll, clidoc.Command(root, "8"))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vigil-ship:", err)
		os.Exit(1)
	}
}
