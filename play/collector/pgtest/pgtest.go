// Package pgtest runs a real, throwaway PostgreSQL server for tests: a
// cluster of its own in a temporary directory, reachable only through a
// Unix socket there, with fsync off, stopped and removed when the test (or
// the test binary) ends. It never touches the host's clusters.
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
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binGlob is where Debian's postgresql-NN packages put the server programs.
var binGlob = "/usr/lib/postgresql/*/bin"

// Server is a running PostgreSQL cluster.
type Server struct {
	dir  string // holds data/ (the cluster), run/ (the socket) and the log
	sock string
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	err  error         // its exit status, once done is closed
}

// findBin returns the bin directory of the newest installed PostgreSQL.
func findBin() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	best, bestVer := "", 0
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil || v <= bestVer {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		best, bestVer = d, v
	}
	if best == "" {
		return "", fmt.Errorf("no PostgreSQL server in %s (Debian: apt-get install postgresql)", binGlob)
	}
	return best, nil
}

// errNoServer marks the absence of the server programs: tests skip on it.
var errNoServer = errors.New("pgtest")

// New initializes a cluster in the existing directory dir (the cluster in
// dir/data, the socket in dir/run, the server's log in dir/postgres.log)
// and starts its server; the caller stops it and removes dir. As root, the
// server runs as nobody: PostgreSQL refuses to run as root.
func New(dir string) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoServer, err)
	}
	s := &Server{dir: dir, sock: filepath.Join(dir, "run"), done: make(chan struct{})}
	// The socket path must fit in sun_path (108 bytes with its NUL).
	if p := filepath.Join(s.sock, ".s.PGSQL.5432"); len(p) > 107 {
		return nil, fmt.Errorf("pgtest: socket path %s is longer than 107 bytes: use a shorter TMPDIR or GOTMPDIR", p)
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	for _, d := range []string{data, s.sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("pgtest: %w", err)
			}
		}
	}
	if cred != nil {
		// The server's user must get through dir and the directory the
		// test framework made for it (t.TempDir and os.MkdirTemp make
		// them 0700).
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := allowTraverse(d); err != nil {
				return nil, err
			}
		}
	}
	logPath := filepath.Join(dir, "postgres.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()

	initdb := s.command(filepath.Join(bin, "initdb"), cred, log,
		"-D", data, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if err := initdb.Run(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, tail(logPath))
	}
	s.cmd = s.command(filepath.Join(bin, "postgres"), cred, log,
		"-D", data,
		"-c", "listen_addresses=", // the Unix socket only
		"-c", "unix_socket_directories="+s.sock,
		// Durability is not tested here; speed is wanted.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB", "-c", "max_connections=60")
	// If the test binary dies, the server goes with it.
	s.cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("pgtest: %w\n%s", err, tail(logPath))
	}
	return s, nil
}

// serverCredential is the user the server runs as: nobody when this is
// root, else the caller itself (nil).
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("pgtest: the server cannot run as root and there is no user nobody: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: user nobody: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func allowTraverse(d string) error {
	fi, err := os.Stat(d)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if fi.Mode().Perm()&0o001 != 0 {
		return nil
	}
	if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
		return fmt.Errorf("pgtest: let the server's user through %s: %w", d, err)
	}
	return nil
}

// command runs a server program as cred with a fixed environment (the
// test's PG* variables must not reach it) and its output going to log.
func (s *Server) command(path string, cred *syscall.Credential, log *os.File, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.ConnString("postgres"))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited: %v", s.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %v: %w", timeout, err)
		}
	}
}

// ConnString is the pgx connection string of database db as the superuser
// postgres.
func (s *Server) ConnString(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", quote(s.sock), quote(db))
}

// quote quotes a value of a keyword/value connection string.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Stop shuts the server down (fast shutdown: sessions are ended) and
// waits for it; its directory is the caller's to remove.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Start starts a server for t alone in t.TempDir() and returns the
// connection string of its database "postgres"; the server stops when t
// ends. t is skipped when PostgreSQL is not installed.
func Start(t testing.TB) string {
	t.Helper()
	s, err := New(t.TempDir())
	if errors.Is(err, errNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.ConnString("postgres")
}

// shared is the server of a package whose TestMain calls Main, started by
// the first DB.
var shared struct {
	inMain bool
	once   sync.Once
	dir    string
	srv    *Server
	err    error
	dbs    atomic.Int64 // databases made so far, for their names
}

// Main runs the package's tests (m.Run) and then stops the server that DB
// started, if any. Call it from TestMain.
func Main(m *testing.M) {
	shared.inMain = true
	defer func() {
		if shared.srv != nil {
			shared.srv.Stop()
		}
		if shared.dir != "" {
			os.RemoveAll(shared.dir)
		}
	}()
	m.Run()
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
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "vigil-pgtest-")
		if shared.err == nil {
			shared.srv, shared.err = New(shared.dir)
		}
	})
	if errors.Is(shared.err, errNoServer) {
		t.Skip(shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	name := "t" + strconv.FormatInt(shared.dbs.Add(1), 10)
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, shared.srv.ConnString("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE: a test that failed may have left connections open.
		if err := admin("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return shared.srv.ConnString(name)
}

// tail is the end of the server's log, for errors.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
