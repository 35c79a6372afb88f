package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/play/collector/pgcluster"
)

// The server is reachable through its socket only, runs without fsync, as
// nobody when the test is root, with its cluster in the test's directory,
// and is gone with that directory after the test.
func TestStart(t *testing.T) {
	var dataDir string
	var pid int
	t.Run("server", func(t *testing.T) {
		connString := Start(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, connString)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		settings := map[string]string{}
		for _, name := range []string{"listen_addresses", "fsync", "data_directory", "server_version_num"} {
			var v string
			if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
				t.Fatal(err)
			}
			settings[name] = v
		}
		t.Logf("settings: %v", settings)
		if settings["listen_addresses"] != "" || settings["fsync"] != "off" {
			t.Errorf("listen_addresses %q, fsync %q; want '' and off", settings["listen_addresses"], settings["fsync"])
		}
		if v, _ := strconv.Atoi(settings["server_version_num"]); v < 150000 {
			t.Errorf("server version %s, want PostgreSQL 15 or newer", settings["server_version_num"])
		}
		dataDir = settings["data_directory"]
		if !strings.HasPrefix(dataDir, os.TempDir()) && !strings.HasPrefix(dataDir, os.Getenv("GOTMPDIR")) {
			t.Errorf("data directory %s is not in a temporary directory", dataDir)
		}
		// The postmaster's pid is the first line of postmaster.pid.
		b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
		if err != nil {
			t.Fatal(err)
		}
		if pid, err = strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err != nil {
			t.Fatalf("postmaster.pid: %v", err)
		}
		fi, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; os.Geteuid() == 0 && uid == 0 {
			t.Error("the cluster belongs to root: the server must not run as root")
		}
	})
	if dataDir == "" {
		return
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data directory %s after the test: %v, want it removed", dataDir, err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("server process %d after the test: kill 0: %v, want ESRCH", pid, err)
	}
}

// DB without Main gives each test a server of its own; databases are usable
// at once.
func TestDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
}

// Without the server programs, tests skip.
func TestSkipWithoutServer(t *testing.T) {
	defer func(o pgcluster.Options) { options = o }(options)
	options.Bin = t.TempDir()
	var skipped bool
	t.Run("start", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Start(t)
		t.Error("Start returned without a server")
	})
	if !skipped {
		t.Error("the test was not skipped")
	}
}
