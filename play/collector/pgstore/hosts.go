package pgstore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/rec/keys"
)

// AddHost enrolls a host. Its name must be the one its recordings' "host"
// field gives (the recorder's host name), as Append checks every line
// against it.
func (s *Store) AddHost(ctx context.Context, name string) error {
	if err := checkName("host", name); err != nil {
		return fmt.Errorf("pgstore: add host: %w", err)
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO hosts (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name)
	if err != nil {
		return fmt.Errorf("pgstore: add host %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: add host %s: %w", name, ErrHostExists)
	}
	return nil
}

// RevokeHost stops accepting recordings from host; what it sent stays.
// Revoking a revoked host changes nothing.
func (s *Store) RevokeHost(ctx context.Context, host string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE hosts SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1", host)
	if err != nil {
		return fmt.Errorf("pgstore: revoke host %s: %w", host, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: revoke host %s: %w", host, ErrUnknownHost)
	}
	return nil
}

// AddHostKey trusts pub for host's recordings and returns its key id
// (rec/keys.ID). Adding a key again changes nothing; a revoked key stays
// revoked (ErrKeyRevoked).
func (s *Store) AddHostKey(ctx context.Context, host string, pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("pgstore: add key to host %s: public key has %d bytes, want %d", host, len(pub), ed25519.PublicKeySize)
	}
	id := keys.ID(pub)
	tag, err := s.pool.Exec(ctx, `INSERT INTO host_keys (host_id, key_id, public_key)
		SELECT id, $2, $3 FROM hosts WHERE name = $1
		ON CONFLICT (host_id, key_id) DO NOTHING`, host, id, []byte(pub))
	if err != nil {
		return "", fmt.Errorf("pgstore: add key %s to host %s: %w", id, host, err)
	}
	if tag.RowsAffected() == 1 {
		return id, nil
	}
	// Nothing inserted: no such host, or the key is there already.
	var revoked *time.Time
	err = s.pool.QueryRow(ctx, `SELECT k.revoked_at FROM hosts h JOIN host_keys k ON k.host_id = h.id
		WHERE h.name = $1 AND k.key_id = $2`, host, id).Scan(&revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("pgstore: add key %s to host %s: %w", id, host, ErrUnknownHost)
	case err != nil:
		return "", fmt.Errorf("pgstore: add key %s to host %s: %w", id, host, err)
	case revoked != nil:
		return "", fmt.Errorf("pgstore: add key %s to host %s: %w on %s", id, host, ErrKeyRevoked, revoked.UTC().Format(time.RFC3339))
	}
	return id, nil
}

// RevokeHostKey stops trusting a key of host: recordings appended to from
// then on are verified without it (their signatures by it become
// UNKNOWN_KEY). Revoking a revoked key changes nothing.
func (s *Store) RevokeHostKey(ctx context.Context, host, keyID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE host_keys k SET revoked_at = coalesce(k.revoked_at, now())
		FROM hosts h WHERE h.id = k.host_id AND h.name = $1 AND k.key_id = $2`, host, keyID)
	if err != nil {
		return fmt.Errorf("pgstore: revoke key %s of host %s: %w", keyID, host, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: revoke key %s of host %s: no such key of an enrolled host", keyID, host)
	}
	return nil
}

// HostKeys returns the keys trusted for host's recordings: enrolled and not
// revoked.
func (s *Store) HostKeys(ctx context.Context, host string) (keys.Set, error) {
	h, err := hostForAppend(ctx, s.pool, host)
	if err != nil {
		return nil, fmt.Errorf("pgstore: keys of host %s: %w", host, err)
	}
	return h.keys, nil
}

// querier is a connection pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appendHost is what an append needs of the sending host.
type appendHost struct {
	id      int64
	revoked bool
	keys    keys.Set
}

// hostForAppend reads a host and its trusted keys in one query.
func hostForAppend(ctx context.Context, q querier, name string) (*appendHost, error) {
	rows, err := q.Query(ctx, `SELECT h.id, h.revoked_at IS NOT NULL, k.public_key
		FROM hosts h LEFT JOIN host_keys k ON k.host_id = h.id AND k.revoked_at IS NULL
		WHERE h.name = $1`, name)
	if err != nil {
		return nil, err
	}
	var h *appendHost
	for rows.Next() {
		var id int64
		var revoked bool
		var pub []byte
		if err := rows.Scan(&id, &revoked, &pub); err != nil {
			rows.Close()
			return nil, err
		}
		if h == nil {
			h = &appendHost{id: id, revoked: revoked, keys: keys.Set{}}
		}
		if pub != nil {
			h.keys.Add(ed25519.PublicKey(pub))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, ErrUnknownHost
	}
	return h, nil
}
