// Package pgcluster runs a private PostgreSQL cluster kept in one directory
// DIR, for `vigil-collector dev` and for tests: the cluster in DIR/data
// (made with initdb the first time, reused after), reachable only through
// a Unix socket in DIR/run (no TCP), the server's output in
// DIR/postgresql.log. It never touches the host's own clusters.
//
// Authentication is trust: whoever reaches the socket is the superuser
// postgres. The socket's directory is therefore the server user's alone
// (0700), and so is the cluster.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoServer marks the absence of PostgreSQL's server programs (tests
// skip on it).
var ErrNoServer = errors.New("no PostgreSQL server")

// binGlob is where Debian's postgresql-NN packages put the server programs.
var binGlob = "/usr/lib/postgresql/*/bin"

// stopTimeout bounds a fast shutdown before the server is killed.
const stopTimeout = 30 * time.Second

// Options are how the cluster is made and run; the zero value is a durable
// cluster run as nobody when the caller is root.
type Options struct {
	// NoSync turns off fsync, synchronous_commit and full_page_writes (and
	// initdb's syncing): much faster, for tests, but a crash of the host
	// may lose or corrupt the cluster.
	NoSync bool
	// User runs the server when the caller is root, since PostgreSQL
	// refuses to run as root; default nobody. Otherwise the server runs as
	// the caller, and User, if set, must name the caller.
	User string
	// Bin is the directory holding initdb and postgres; default Debian's
	// /usr/lib/postgresql/NN/bin, NN the existing cluster's version or,
	// for a new cluster, the newest installed.
	Bin string
}

// Cluster is a running server.
type Cluster struct {
	dir  string // DIR, absolute and without symbolic links
	sock string // DIR/run
	log  string // DIR/postgresql.log
	cmd  *exec.Cmd
	done chan struct{} // closed when the server has exited
	err  error         // its exit status, once done is closed
}

// Start makes the cluster in dir (created if missing) unless there is one,
// and starts its server; ctx bounds initdb and the wait until the server
// accepts connections, not the server's life: Stop ends that. If the
// server fails to start, the error ends with what it logged.
func Start(ctx context.Context, dir string, o Options) (*Cluster, error) {
	runAs, err := serverUser(o.User)
	if err != nil {
		return nil, err
	}
	c, err := prepare(dir, runAs)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(c.dir, "data")
	bin, isCluster, err := programs(o.Bin, data)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{data, c.sock} {
		if err := runAs.mkdir(d); err != nil {
			return nil, err
		}
	}
	log, err := os.OpenFile(c.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	defer log.Close()
	// Errors quote what this start logged, not earlier runs.
	logStart, err := log.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}

	if !isCluster {
		args := []string{"-D", data, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
		if o.NoSync {
			args = append(args, "--no-sync")
		}
		initdb := c.command(ctx, filepath.Join(bin, "initdb"), runAs, log, args...)
		// Interrupted rather than killed, initdb removes what it made.
		initdb.Cancel = func() error { return initdb.Process.Signal(os.Interrupt) }
		initdb.WaitDelay = 10 * time.Second
		if err := initdb.Run(); err != nil {
			return nil, fmt.Errorf("pgcluster: initdb %s: %w\n%s", data, err, c.tail(logStart))
		}
	}
	args := []string{"-D", data,
		"-c", "listen_addresses=", // the Unix socket only
		// Quoted: the setting is a comma-separated list.
		"-c", `unix_socket_directories="` + strings.ReplaceAll(c.sock, `"`, `""`) + `"`,
		// A collector writes all day: shared buffers that hold the
		// index being filled, and checkpoints minutes apart rather than
		// every 1 GB of WAL (half a minute at the ingest benchmark's rate,
		// each followed by full-page images of every page touched).
		"-c", "shared_buffers=256MB", "-c", "max_wal_size=4GB", "-c", "max_connections=60"}
	if o.NoSync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// Not bound to ctx: the server outlives it.
	c.cmd = c.command(context.Background(), filepath.Join(bin, "postgres"), runAs, log, args...)
	// If the caller dies, the server goes with it.
	c.cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("pgcluster: postgres in %s: %w\n%s", c.dir, err, c.tail(logStart))
	}
	return c, nil
}

// prepare makes dir if it is missing and checks that it can hold the
// cluster and its socket, and that runAs (nil: the caller) can reach it.
func prepare(dir string, runAs *account) (*Cluster, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		dir, err = filepath.EvalSymlinks(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{dir: dir, sock: filepath.Join(dir, "run"), log: filepath.Join(dir, "postgresql.log"), done: make(chan struct{})}
	// The socket's path must fit in sun_path (108 bytes with its NUL).
	if p := filepath.Join(c.sock, ".s.PGSQL.5432"); len(p) > 107 {
		return nil, fmt.Errorf("pgcluster: the socket path %s is longer than 107 bytes: choose a shorter directory", p)
	}
	if runAs != nil {
		if err := runAs.reach(dir); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// programs returns the directory of the server's programs (bin, unless
// empty) for the cluster in data, and whether there is one yet.
func programs(bin, data string) (string, bool, error) {
	version, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("pgcluster: %w", err)
	}
	isCluster := err == nil
	if bin == "" {
		bin, err = findBin(strings.TrimSpace(string(version)))
	} else {
		err = hasServer(bin)
	}
	return bin, isCluster, err
}

// findBin returns the bin directory of PostgreSQL version (the cluster's),
// or of the newest installed when version is "".
func findBin(version string) (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	best, bestVer := "", 0
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil || v <= bestVer || (version != "" && strconv.Itoa(v) != version) {
			continue
		}
		// The client packages alone fill bin/ too.
		if hasServer(d) == nil {
			best, bestVer = d, v
		}
	}
	switch {
	case best != "":
		return best, nil
	case version != "":
		return "", fmt.Errorf("pgcluster: %w %s in %s, the cluster's version (Debian: apt-get install postgresql-%s)", ErrNoServer, version, binGlob, version)
	default:
		return "", fmt.Errorf("pgcluster: %w in %s (Debian: apt-get install postgresql)", ErrNoServer, binGlob)
	}
}

// hasServer checks that bin holds the server's programs.
func hasServer(bin string) error {
	for _, p := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return fmt.Errorf("pgcluster: %w: %w", ErrNoServer, err)
		}
	}
	return nil
}

// account is the user the server runs as when the caller is root; nil
// means the caller itself.
type account struct {
	name string
	cred *syscall.Credential
}

func serverUser(name string) (*account, error) {
	if os.Geteuid() != 0 {
		if name == "" {
			return nil, nil
		}
		if me, err := user.Current(); err != nil || me.Username != name {
			return nil, fmt.Errorf("pgcluster: only root can run the server as another user (%s)", name)
		}
		return nil, nil
	}
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: the server's user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: %w", name, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("pgcluster: PostgreSQL refuses to run as root (user %s): choose another user", name)
	}
	// No supplementary groups: the server gets the user's own group only.
	return &account{name: name, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
}

// searchable tells whether a may pass through the directory fi, by its
// mode bits (ACLs are not read).
func (a *account) searchable(fi os.FileInfo) bool {
	st := fi.Sys().(*syscall.Stat_t)
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == a.cred.Uid:
		return perm&0o100 != 0
	case st.Gid == a.cred.Gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// reach makes dir searchable by a (dir is the cluster's: os.MkdirTemp and
// the like make it 0700), and fails if a directory above it is not: those
// are not the cluster's to change.
func (a *account) reach(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if !a.searchable(fi) {
			return fmt.Errorf("pgcluster: the server's user %s cannot reach %s: it may not pass through %s (mode %v); "+
				"allow it (chmod o+x %s) or choose a directory elsewhere", a.name, dir, p, fi.Mode().Perm(), p)
		}
		if p == "/" {
			break
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if a.searchable(fi) {
		return nil
	}
	if err := os.Chmod(dir, fi.Mode().Perm()|0o011); err != nil {
		return fmt.Errorf("pgcluster: let %s through %s: %w", a.name, dir, err)
	}
	return nil
}

// mkdir makes d, a directory of the server's alone, unless it exists (an
// existing one is left as it is: the server checks its cluster's owner
// and mode itself).
func (a *account) mkdir(d string) error {
	err := os.Mkdir(d, 0o700)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err == nil && a != nil {
		err = os.Chown(d, int(a.cred.Uid), int(a.cred.Gid))
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// command runs a server program as a with a fixed environment (the
// caller's PG* variables must not reach it) and its output going to log.
func (c *Cluster) command(ctx context.Context, path string, a *account, log *os.File, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if a != nil {
		cmd.SysProcAttr.Credential = a.cred
	}
	return cmd
}

// waitReady waits until the server answers on the socket; if another
// server has the cluster, it answers there while ours fails to start.
func (c *Cluster) waitReady(ctx context.Context) error {
	for {
		err := c.ping(ctx)
		if err == nil {
			if err = c.ours(); err == nil {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("exited: %v", c.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// ours checks that the server which answers is the one Start started: it
// is the one whose process id heads the cluster's postmaster.pid.
func (c *Cluster) ours() error {
	b, err := os.ReadFile(filepath.Join(c.dir, "data", "postmaster.pid"))
	if err != nil {
		return err
	}
	if pid, _, _ := strings.Cut(string(b), "\n"); pid != strconv.Itoa(c.cmd.Process.Pid) {
		return fmt.Errorf("another server (process %s) has the cluster", pid)
	}
	return nil
}

// ConnString is the pgx (libpq keyword/value) connection string of
// database db as the superuser postgres.
func (c *Cluster) ConnString(db string) string {
	return fmt.Sprintf("host=%s user=postgres dbname=%s sslmode=disable", quote(c.sock), quote(db))
}

// quote quotes a value of a keyword/value connection string.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// CreateDB creates the database name unless it exists.
func (c *Cluster) CreateDB(ctx context.Context, name string) error {
	err := c.admin(ctx, func(conn *pgx.Conn) error {
		var exists bool
		err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
		if err == nil && !exists {
			_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return nil
}

// DropDB drops the database name if it exists, ending its sessions.
func (c *Cluster) DropDB(ctx context.Context, name string) error {
	err := c.admin(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	})
	if err != nil {
		return fmt.Errorf("pgcluster: drop database %s: %w", name, err)
	}
	return nil
}

// admin runs f on a connection to the database postgres.
func (c *Cluster) admin(ctx context.Context, f func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return f(conn)
}

// Stop shuts the server down (fast shutdown: sessions are ended, the data
// written) and waits for it. The error is the server's if it did not exit
// cleanly, including an earlier crash.
func (c *Cluster) Stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("pgcluster: postgres in %s did not stop within %v: killed", c.dir, stopTimeout)
	}
	if c.err != nil {
		return fmt.Errorf("pgcluster: postgres in %s: %w\n%s", c.dir, c.err, c.tail(0))
	}
	return nil
}

// tail is the end of what the server logged from offset from on, for
// errors.
func (c *Cluster) tail(from int64) string {
	f, err := os.Open(c.log)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<40))
	if err != nil {
		return fmt.Sprintf("(%s: %v)", c.log, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return c.log + ":\n" + strings.Join(lines[max(0, len(lines)-20):], "\n")
}
