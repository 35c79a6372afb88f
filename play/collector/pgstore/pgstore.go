// Package pgstore is the collector's storage in PostgreSQL: the enrolled
// hosts and their signing keys, and the recording files the hosts ship,
// kept byte for byte as written on the host and verified as they arrive
// (rec/verify) against the sending host's keys.
//
// Several collectors may share one database: the schema is migrated under
// an advisory lock, and appends to one recording are serialized by a lock
// on its row, each collector catching its verifier up on what the others
// stored. A recording's bytes live in the partition of chunks of the month
// it started (see partitions.go); retention drops whole partitions, or in
// a month that keeps a recording under legal hold deletes the others row
// by row, and records what it deleted (purge.go).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors callers tell apart; returned errors wrap them with context.
var (
	ErrHostExists  = errors.New("host already enrolled")
	ErrUnknownHost = errors.New("host not enrolled")
	ErrHostRevoked = errors.New("host revoked")
	ErrKeyRevoked  = errors.New("key revoked")
	ErrWrongHost   = errors.New("recording names another host")
	ErrNotLines    = errors.New("data does not end with a complete line")
	ErrNotFound    = errors.New("no such recording")
	ErrBadOffset   = errors.New("offset not within the recording")
)

// Store is the collector's database. Its methods are safe for concurrent
// use.
type Store struct {
	pool     *pgxpool.Pool
	verifier *verifierCache
	mu       sync.Mutex
	parts    map[time.Time]bool // months whose partition is known to exist
}

// Open connects to the database (a pgx connection string) and migrates its
// schema.
func Open(ctx context.Context, connString string) (*Store, error) {
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	_, err = Migrate(ctx, c.Conn())
	c.Release()
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, verifier: newVerifierCache(verifierCacheSize), parts: map[time.Time]bool{}}, nil
}

// Close closes the connections.
func (s *Store) Close() { s.pool.Close() }

// maxName bounds host and file names: a file name on Linux has at most 255
// bytes, and so has a host name.
const maxName = 255

// checkName refuses names PostgreSQL's text cannot hold (NUL, invalid
// UTF-8) and, for files, anything but a plain file name.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty %s name", what)
	case len(name) > maxName:
		return fmt.Errorf("%s name longer than %d bytes", what, maxName)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%s name %q is not valid UTF-8 text", what, name)
	case what == "file" && (strings.ContainsRune(name, '/') || name == "." || name == ".."):
		return fmt.Errorf("file name %q is not a plain file name", name)
	}
	return nil
}

// cleanText makes text from a recording storable: PostgreSQL's text holds
// neither NUL nor invalid UTF-8, which a hostile or broken line may carry.
func cleanText(s string) string {
	if !utf8.ValidString(s) { // ToValidUTF8 decodes every rune to find out
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
