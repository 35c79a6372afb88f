package pgstore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-rec/vigil/rec/keys"
)

// Errors of readers.
var (
	ErrReaderExists  = errors.New("reader already added")
	ErrUnknownReader = errors.New("not a reader")
	ErrReaderRevoked = errors.New("reader revoked")
)

// Reader is someone allowed to read recordings over HTTPS, known by the
// key of their client certificate.
type Reader struct {
	Name      string
	KeyID     string
	AddedAt   time.Time
	RevokedAt *time.Time // nil: allowed
}

// AddReader allows the holder of pub to read every recording, as name.
// A key that is a host's cannot read (ErrKeyInUse): a host holds its key,
// and a host's root may be the attacker.
func (s *Store) AddReader(ctx context.Context, name string, pub ed25519.PublicKey) (string, error) {
	if err := checkName("reader", name); err != nil {
		return "", fmt.Errorf("pgstore: add reader: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("pgstore: add reader %s: public key has %d bytes, want %d", name, len(pub), ed25519.PublicKeySize)
	}
	id := keys.ID(pub)
	var host string
	err := s.pool.QueryRow(ctx, `SELECT h.name FROM host_keys k JOIN hosts h ON h.id = k.host_id
		WHERE k.public_key = $1 LIMIT 1`, []byte(pub)).Scan(&host)
	switch {
	case err == nil:
		return "", fmt.Errorf("pgstore: add reader %s: key %s: %w host %s", name, id, ErrKeyInUse, host)
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("pgstore: add reader %s: %w", name, err)
	}
	_, err = s.pool.Exec(ctx, "INSERT INTO readers (name, key_id, public_key) VALUES ($1, $2, $3)", name, id, []byte(pub))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: the name, or the key
		return "", fmt.Errorf("pgstore: add reader %s: %w (as this name or with this key %s)", name, ErrReaderExists, id)
	}
	if err != nil {
		return "", fmt.Errorf("pgstore: add reader %s: %w", name, err)
	}
	return id, nil
}

// RevokeReader stops name from reading. Revoking a revoked reader changes
// nothing.
func (s *Store) RevokeReader(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE readers SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1", name)
	if err != nil {
		return fmt.Errorf("pgstore: revoke reader %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: revoke reader %s: %w", name, ErrUnknownReader)
	}
	return nil
}

// Readers lists the readers by name.
func (s *Store) Readers(ctx context.Context) ([]Reader, error) {
	rows, err := s.pool.Query(ctx, "SELECT name, key_id, added_at, revoked_at FROM readers ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("pgstore: list readers: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reader, error) {
		var r Reader
		err := row.Scan(&r.Name, &r.KeyID, &r.AddedAt, &r.RevokedAt)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list readers: %w", err)
	}
	return rs, nil
}

// ReaderByKey returns the name of the reader whose key is pub; a key that
// is no reader's (ErrUnknownReader) or a revoked reader's
// (ErrReaderRevoked) is refused.
func (s *Store) ReaderByKey(ctx context.Context, pub ed25519.PublicKey) (string, error) {
	var name string
	var revoked bool
	err := s.pool.QueryRow(ctx, "SELECT name, revoked_at IS NOT NULL FROM readers WHERE public_key = $1",
		[]byte(pub)).Scan(&name, &revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("pgstore: reader of key %s: %w", keys.ID(pub), ErrUnknownReader)
	case err != nil:
		return "", fmt.Errorf("pgstore: reader of key %s: %w", keys.ID(pub), err)
	case revoked:
		return name, fmt.Errorf("pgstore: reader %s: %w", name, ErrReaderRevoked)
	}
	return name, nil
}
