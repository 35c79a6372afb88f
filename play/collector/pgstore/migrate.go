package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The schema's migrations, migrations/NNNN_name.sql, numbered from 1 without
// gaps; each is applied once, in order, and recorded in schema_migrations.
// A released migration is never edited: a change is a new one.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// Advisory lock keys ("vigil" in the high bytes), held for a transaction:
// one migration at a time, one partition change at a time.
const (
	lockMigrate    int64 = 0x76696769_6c000001
	lockPartitions int64 = 0x76696769_6c000002
)

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names)) // Glob sorts: by version, as they are zero-padded
	for i, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: want number %04d as NNNN_name.sql", name, i+1)
		}
		sql, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(sql)})
	}
	return ms, nil
}

// Migrate brings the database's schema up to date and returns the versions
// it applied (none when it was). The migrations run in one transaction that
// holds an advisory lock: collectors starting together apply them once, the
// others wait and find them applied; a failure applies none. A database
// migrated by a newer collector is refused.
func Migrate(ctx context.Context, conn *pgx.Conn) ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	// The lock comes first: CREATE TABLE IF NOT EXISTS is not safe against
	// itself in another session.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockMigrate); err != nil {
		return nil, fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	_, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: migrate: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return nil, fmt.Errorf("pgstore: migrate: %w", err)
	}
	if current > len(ms) {
		return nil, fmt.Errorf("pgstore: the database's schema is at version %d, newer than this collector's %d", current, len(ms))
	}
	var applied []int
	for _, m := range ms[current:] {
		// Without arguments pgx sends the file as one simple query, which
		// may hold several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("pgstore: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return nil, fmt.Errorf("pgstore: migration %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: migrate: commit: %w", err)
	}
	return applied, nil
}
