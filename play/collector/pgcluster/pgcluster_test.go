package pgcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// tempDir is a new directory in os.TempDir(), which the server's user can
// pass through (t.TempDir's parent is 0700).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vigil-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// start starts the cluster in dir, skipping t without PostgreSQL; it is
// stopped when t ends if the test has not stopped it.
func start(t *testing.T, dir string, o Options) *Cluster {
	t.Helper()
	c, err := Start(testCtx(t), dir, o)
	if errors.Is(err, ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func connect(t *testing.T, c *Cluster, db string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, c.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func setting(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(testCtx(t), "SELECT current_setting($1)", name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func modeOwner(t *testing.T, path string) (os.FileMode, uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid
}

// A new cluster: durable, socket only, in DIR, not root's; data written
// survive Stop and a new Start on the same directory (which does not make
// a new cluster); while a server has the cluster, a second Start fails and
// says why from the log.
func TestStartStopRestart(t *testing.T) {
	dir := tempDir(t)
	c := start(t, dir, Options{})
	conn := connect(t, c, "postgres")
	if v := setting(t, conn, "listen_addresses"); v != "" {
		t.Errorf("listen_addresses %q, want none (no TCP)", v)
	}
	if v := setting(t, conn, "unix_socket_directories"); !strings.Contains(v, filepath.Join(dir, "run")) {
		t.Errorf("unix_socket_directories %q, want %s/run", v, dir)
	}
	if v := setting(t, conn, "data_directory"); v != filepath.Join(dir, "data") {
		t.Errorf("data_directory %q, want %s/data", v, dir)
	}
	if v := setting(t, conn, "fsync"); v != "on" {
		t.Errorf("fsync %s, want on by default", v)
	}
	for path, want := range map[string]os.FileMode{"data": 0o700, "run": 0o700, "postgresql.log": 0o600} {
		mode, uid := modeOwner(t, filepath.Join(dir, path))
		if mode != want {
			t.Errorf("%s: mode %v, want %v", path, mode, want)
		}
		if path != "postgresql.log" && os.Geteuid() == 0 && uid == 0 {
			t.Errorf("%s belongs to root: the server must not run as root", path)
		}
	}

	for range 2 { // once to create, once to find it there
		if err := c.CreateDB(testCtx(t), "vigil"); err != nil {
			t.Fatal(err)
		}
	}
	db := connect(t, c, "vigil")
	if _, err := db.Exec(testCtx(t), "CREATE TABLE kept (n int); INSERT INTO kept SELECT generate_series(1, 3)"); err != nil {
		t.Fatal(err)
	}
	pidFile, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("server process %d after Stop: kill 0: %v, want ESRCH", pid, err)
	}
	for _, p := range []string{"data/postmaster.pid", "run/.s.PGSQL.5432"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Stop: %v, want it removed", p, err)
		}
	}

	c = start(t, dir, Options{NoSync: true})
	var n int
	if err := connect(t, c, "vigil").QueryRow(testCtx(t), "SELECT count(*) FROM kept").Scan(&n); err != nil || n != 3 {
		t.Errorf("after a restart: %d rows, %v; want 3", n, err)
	}
	if v := setting(t, connect(t, c, "postgres"), "fsync"); v != "off" {
		t.Errorf("fsync %s with NoSync, want off", v)
	}

	_, err = Start(testCtx(t), dir, Options{})
	if err == nil {
		t.Fatal("a second Start on a cluster in use succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, filepath.Join(dir, "postgresql.log")+":\n") || !strings.Contains(msg, `lock file "postmaster.pid" already exists`) {
		t.Errorf("a second Start: the error does not quote the log's reason:\n%s", msg)
	}
	// Only what that start logged: not the running server's start.
	if strings.Contains(msg, "ready to accept connections") {
		t.Errorf("a second Start: the error quotes earlier runs:\n%s", msg)
	}
	if err := connect(t, c, "vigil").Ping(testCtx(t)); err != nil {
		t.Errorf("the first server after a second Start: %v", err)
	}
}

type unusable struct {
	name, dir string
	o         Options
	want      string // in the error
}

// A directory that cannot hold a cluster, or a server that cannot run, is
// an error that says why, before anything runs.
func TestUnusable(t *testing.T) {
	file := filepath.Join(tempDir(t), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(tempDir(t), strings.Repeat("d", 100))
	oldCluster := tempDir(t)
	if err := os.MkdirAll(filepath.Join(oldCluster, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(oldCluster, "data", "PG_VERSION"), []byte("9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []unusable{
		{"a file", file, Options{}, file + ": not a directory"},
		{"a long path", long, Options{}, "longer than 107 bytes"},
		{"a version not installed", oldCluster, Options{}, "no PostgreSQL server 9 in /usr/lib/postgresql/*/bin, the cluster's version (Debian: apt-get install postgresql-9)"},
		{"no programs in Bin", tempDir(t), Options{Bin: t.TempDir()}, "no PostgreSQL server"},
	}
	if os.Geteuid() == 0 {
		// t.TempDir()'s parent is 0700: nobody cannot pass through it, and
		// it is not DIR's to change.
		inside := filepath.Join(t.TempDir(), "db")
		parent := filepath.Dir(filepath.Dir(inside))
		cases = append(cases,
			unusable{"a parent closed to the server's user", inside, Options{},
				"the server's user nobody cannot reach " + inside + ": it may not pass through " + parent + " (mode -rwx------)"},
			unusable{"root", tempDir(t), Options{User: "root"}, "PostgreSQL refuses to run as root"})
		t.Cleanup(func() {
			if mode, _ := modeOwner(t, parent); mode != 0o700 {
				t.Errorf("%s is now %v: Start changed a directory above its own", parent, mode)
			}
		})
	} else {
		cases = append(cases, unusable{"another user", tempDir(t), Options{User: "root"}, "only root can run the server as another user (root)"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(testCtx(t), tc.dir, tc.o)
			if err == nil {
				_ = c.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// Without the server programs (a client package alone fills bin/ too) the
// error is ErrNoServer and says what to install.
func TestNoServer(t *testing.T) {
	defer func(g string) { binGlob = g }(binGlob)
	lib := t.TempDir()
	binGlob = filepath.Join(lib, "*", "bin")
	if err := os.MkdirAll(filepath.Join(lib, "16", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "16", "bin", "psql"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(testCtx(t), tempDir(t), Options{})
	if !errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), "(Debian: apt-get install postgresql)") {
		t.Errorf("Start without a server: %v", err)
	}
}

// A first Start cut short (ctx ends during initdb) leaves a directory that
// the next Start makes a cluster in.
func TestInterruptedStart(t *testing.T) {
	dir := tempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c, err := Start(ctx, dir, Options{NoSync: true})
	if err == nil {
		_ = c.Stop()
		t.Skip("initdb was done within 300 ms: nothing interrupted")
	}
	if errors.Is(err, ErrNoServer) {
		t.Skip(err)
	}
	t.Logf("interrupted: %v", err)
	c = start(t, dir, Options{NoSync: true})
	if err := c.CreateDB(testCtx(t), "vigil"); err != nil {
		t.Fatal(err)
	}
}
