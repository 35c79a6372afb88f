package pgstore

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
)

func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 || !strings.Contains(ms[0].sql, "PARTITION BY RANGE") {
		t.Fatalf("migrations: %+v", ms)
	}
}

// Migrating again applies nothing; the schema is there once.
func TestMigrateTwice(t *testing.T) {
	ctx := testCtx(t)
	conn := connect(t, pgtest.DB(t))
	all := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	for i, want := range [][]int{all, nil} {
		applied, err := Migrate(ctx, conn)
		if err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
		if !slices.Equal(applied, want) {
			t.Errorf("migration %d applied %v, want %v", i+1, applied, want)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(all) {
		t.Errorf("schema_migrations: %d rows, %v; want %d", n, err, len(all))
	}
	// A database migrated by a newer collector is left alone.
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (1000, 'future')"); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, conn); err == nil || !strings.Contains(err.Error(), "newer than this collector") {
		t.Errorf("Migrate of a newer schema: %v", err)
	}
}

// Collectors starting at once: exactly one applies the migrations, the
// others find them applied, none fails.
func TestMigrateConcurrently(t *testing.T) {
	connString := pgtest.DB(t)
	conns := []*pgx.Conn{connect(t, connString), connect(t, connString), connect(t, connString)}
	ctx := testCtx(t)
	results := make([][]int, len(conns))
	errs := make([]error, len(conns))
	var start, done sync.WaitGroup
	start.Add(1)
	for i, c := range conns {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			results[i], errs[i] = Migrate(ctx, c)
		}()
	}
	start.Done()
	done.Wait()
	applied := 0
	for i := range conns {
		if errs[i] != nil {
			t.Errorf("connection %d: %v", i, errs[i])
		}
		if len(results[i]) > 0 {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("%d connections applied migrations (%v), want 1", applied, results)
	}
	// Open migrates too, and finds nothing to do.
	s := open(t, connString)
	if _, err := s.Partitions(ctx); err != nil {
		t.Error(err)
	}
}

// Migration 10 keeps the command logs stored before it: each becomes its
// first piece.
func TestMigrateCommandLogChunks(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.DB(t)
	conn := connect(t, db)
	migrateTo(t, conn, 9)
	const log = "{\"body\":1}\n{\"body\":2}\n"
	if _, err := conn.Exec(ctx, `INSERT INTO hosts (name) VALUES ('h1.example.com')`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO command_logs (host_id, rec, data, size)
		SELECT id, 'rec-1', $1, $2 FROM hosts`, []byte(log), len(log)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.CommandLog(ctx, "h1.example.com", "rec-1"); err != nil || string(got) != log {
		t.Errorf("command log after migration 10: %q %v, want %q", got, err, log)
	}
	if _, err := s.CommandLog(ctx, "h1.example.com", "rec-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a log never shipped: %v, want ErrNotFound", err)
	}
}

// migrateTo applies the migrations up to version n as Migrate does.
func migrateTo(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	ctx := testCtx(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:n] {
		if _, err := conn.Exec(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
}

// Migration 11 compresses texts with lz4: the tables, a partition made
// before it, and one made after.
func TestMigrateLZ4Texts(t *testing.T) {
	ctx := testCtx(t)
	db := pgtest.DB(t)
	conn := connect(t, db)
	migrateTo(t, conn, 10)
	if _, err := conn.Exec(ctx, "CREATE TABLE texts_2020_01 PARTITION OF texts FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')"); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	later := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := s.ensurePartition(ctx, later); err != nil {
		t.Fatal(err)
	}
	for table, column := range map[string]string{
		"texts_recent": "body", "texts": "body", "texts_2020_01": "body", textsPartitionName(later): "body",
		"command_log_chunks": "data", partitionName(later): "data",
	} {
		var c string
		if err := conn.QueryRow(ctx, `SELECT attcompression::text FROM pg_attribute
			WHERE attrelid = $1::regclass AND attname = $2`, table, column).Scan(&c); err != nil {
			t.Fatalf("%s.%s: %v", table, column, err)
		}
		if c != "l" {
			t.Errorf("%s.%s compressed with %q, want lz4 (l)", table, column, c)
		}
	}
}
