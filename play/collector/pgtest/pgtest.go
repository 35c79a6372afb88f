// Package pgtest runs a real, throwaway PostgreSQL server for tests: a
// pgcluster in a temporary directory, reachable only through a Unix socket
// there, with fsync off, stopped and removed when the test (or the test
// binary) ends. It never touches the host's clusters.
//
// A package whose tests share one server (initdb costs about a second):
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test takes a fresh database with DB(t).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgcluster"
)

// options are the test clusters': durability is not what is tested here,
// speed is wanted.
var options = pgcluster.Options{NoSync: true}

// server is a running cluster and its directory.
type server struct {
	*pgcluster.Cluster
	dir string
}

// start starts a cluster in a new directory of its own in os.TempDir(),
// whose parent the server's user can pass through (t.TempDir's is 0700).
func start() (*server, error) {
	dir, err := os.MkdirTemp("", "vigil-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, dir, options)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &server{c, dir}, nil
}

// stop stops the server and removes its directory.
func (s *server) stop() error {
	err := s.Stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// Start starts a server for t alone and returns the connection string of
// its database "postgres"; the server stops when t ends. t is skipped when
// PostgreSQL is not installed.
func Start(t testing.TB) string {
	t.Helper()
	s, err := start()
	if errors.Is(err, pgcluster.ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s.ConnString("postgres")
}

// shared is the server of a package whose TestMain calls Main, started by
// the first DB.
var shared struct {
	inMain bool
	once   sync.Once
	srv    *server
	err    error
	dbs    atomic.Int64 // databases made so far, for their names
}

// Main runs the package's tests (m.Run), then stops the server that DB
// started, if any, and exits. Call it from TestMain.
func Main(m *testing.M) {
	shared.inMain = true
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// DB creates an empty database for t and returns its connection string;
// it is dropped when t ends. The server is the package's shared one (see
// Main), started by the first call, or without Main one for t alone. t is
// skipped when PostgreSQL is not installed.
func DB(t testing.TB) string {
	t.Helper()
	if !shared.inMain {
		return Start(t)
	}
	shared.once.Do(func() { shared.srv, shared.err = start() })
	if errors.Is(shared.err, pgcluster.ErrNoServer) {
		t.Skip(shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	name := "t" + strconv.FormatInt(shared.dbs.Add(1), 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := shared.srv.CreateDB(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// DropDB ends the sessions a failed test may have left open.
		if err := shared.srv.DropDB(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return shared.srv.ConnString(name)
}
