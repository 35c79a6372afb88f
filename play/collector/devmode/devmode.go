// Package devmode is `vigil-collector dev`: a whole collector to try and to
// test with, in one directory: a private PostgreSQL cluster (Debian's
// binaries, play/collector/pgcluster), a CA and a certificate for the
// collector on loopback, the collector serving there and on its local
// socket, and one-time enrollment tokens for the hosts named.
package devmode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgcluster"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/server"
)

// Options say where and how to run.
type Options struct {
	Dir    string        // holds everything; kept between runs
	Listen string        // the HTTPS address; default 127.0.0.1:8443
	Hosts  []string      // a token for each
	TTL    time.Duration // of the tokens; default a day
	Out    io.Writer     // what a person reads: the CA, the tokens, commands
	Log    *slog.Logger  // the collector's log
}

// The paths in Options.Dir.
const (
	PGDir    = "pg"        // the PostgreSQL cluster
	Socket   = "read.sock" // the local socket for readers
	Database = "vigil"
)

// Run prepares what is missing in o.Dir, starts PostgreSQL and serves
// until ctx ends, then stops them.
func Run(ctx context.Context, o Options) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8443"
	}
	if o.TTL == 0 {
		o.TTL = 24 * time.Hour
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pg, err := pgcluster.Start(ctx, filepath.Join(dir, PGDir), pgcluster.Options{})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := pg.CreateDB(ctx, Database); err != nil {
		return err
	}
	db := pg.ConnString(Database)
	st, err := pgstore.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	hostName, _ := os.Hostname()
	cert, err := Certificates(dir, hostName)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	local, err := server.ListenLocal(filepath.Join(dir, Socket), "")
	if err != nil {
		l.Close()
		return err
	}
	url := "https://" + l.Addr().String()
	ca := filepath.Join(dir, CAFile)
	fmt.Fprintf(o.Out, `vigil-collector dev: a collector for trying Vigil's fleet, all in %s
  PostgreSQL  %s (export VIGIL_COLLECTOR_DB="%s" for vigil-collector hosts|readers)
  collector   %s, its CA certificate %s
  readers     vigil-play list --server %s
`, dir, filepath.Join(dir, PGDir), db, url, ca, filepath.Join(dir, Socket))
	for _, h := range o.Hosts {
		token, err := st.NewEnrollToken(ctx, h, o.TTL)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "  enroll %s (token valid once, for %v):\n    vigil-ship enroll --collector %s --ca %s --host %s --token %s\n",
			h, o.TTL, url, ca, h, token)
	}
	fmt.Fprintf(o.Out, "  ship        vigil-ship --collector %s --ca %s [--host NAME --key KEY --dir DIR]\nServing until interrupted.\n", url, ca)
	go st.FoldEvery(ctx, pgstore.FoldInterval, o.Log)
	return server.ServeAll(ctx, l, local, cert, server.New(st, o.Log), o.Log, 5*time.Second)
}
