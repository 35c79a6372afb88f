package pgstore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/rec/keys"
)

// Errors of enrollment and of finding a host by its key.
var (
	ErrBadToken   = errors.New("no such enrollment token for the host, or used, or expired")
	ErrUnknownKey = errors.New("key not enrolled")
	ErrKeyInUse   = errors.New("key in use by")
)

// tokenBytes is the randomness of an enrollment token: 256 bits, beyond
// guessing for as long as a token lives.
const tokenBytes = 32

// NewEnrollToken returns a one-time token with which host enrolls a key
// (Enroll) within ttl, creating the host if it is not enrolled yet. Only
// the token's SHA-256 is stored. A revoked host gets none.
func (s *Store) NewEnrollToken(ctx context.Context, host string, ttl time.Duration) (string, error) {
	if err := checkName("host", host); err != nil {
		return "", fmt.Errorf("pgstore: enrollment token: %w", err)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("pgstore: enrollment token for host %s: lifetime %v is not positive", host, ttl)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, err)
	}
	token := hex.EncodeToString(raw)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO hosts (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", host); err != nil {
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, err)
	}
	var hostID int64
	var revoked bool
	err = tx.QueryRow(ctx, "SELECT id, revoked_at IS NOT NULL FROM hosts WHERE name = $1", host).Scan(&hostID, &revoked)
	switch {
	case err != nil:
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, err)
	case revoked:
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, ErrHostRevoked)
	}
	// The database's clock sets the expiry, as it checks it: collectors'
	// clocks may differ.
	if _, err := tx.Exec(ctx, `INSERT INTO enroll_tokens (token_hash, host_id, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')`, tokenHash(token), hostID, ttl.Microseconds()); err != nil {
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("pgstore: enrollment token for host %s: %w", host, err)
	}
	return token, nil
}

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Enroll uses host's one-time token to trust pub for host's recordings and
// returns pub's key id. Using the token and adding the key are one
// transaction: a token enrolls one key, once, before it expires; a failure
// leaves it unused. A key enrolled for another host, or revoked, is
// refused (ErrKeyInUse, ErrKeyRevoked), as is a revoked host.
func (s *Store) Enroll(ctx context.Context, host, token string, pub ed25519.PublicKey) (string, error) {
	id, err := s.enroll(ctx, host, token, pub)
	if err != nil {
		return "", fmt.Errorf("pgstore: enroll a key for host %s: %w", host, err)
	}
	return id, nil
}

func (s *Store) enroll(ctx context.Context, host, token string, pub ed25519.PublicKey) (string, error) {
	if err := checkName("host", host); err != nil {
		// No token was made for a name that cannot be stored.
		return "", fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	id := keys.ID(pub)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	// The row's update is the token's use: of two concurrent uses, the
	// second waits for the first and finds used_at set.
	var hostID int64
	var revoked bool
	err = tx.QueryRow(ctx, `UPDATE enroll_tokens t SET used_at = now(), key_id = $3
		FROM hosts h WHERE h.id = t.host_id AND h.name = $1 AND t.token_hash = $2
		AND t.used_at IS NULL AND t.expires_at > now()
		RETURNING h.id, h.revoked_at IS NOT NULL`, host, tokenHash(token), id).Scan(&hostID, &revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", ErrBadToken
	case err != nil:
		return "", fmt.Errorf("token: %w", err)
	case revoked:
		return "", ErrHostRevoked
	}
	var other string
	err = tx.QueryRow(ctx, `SELECT h.name FROM host_keys k JOIN hosts h ON h.id = k.host_id
		WHERE k.public_key = $1 AND k.host_id <> $2 LIMIT 1`, []byte(pub), hostID).Scan(&other)
	switch {
	case err == nil:
		return "", fmt.Errorf("key %s: %w host %s", id, ErrKeyInUse, other)
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("key %s: %w", id, err)
	}
	var reader string
	err = tx.QueryRow(ctx, "SELECT name FROM readers WHERE public_key = $1", []byte(pub)).Scan(&reader)
	switch {
	case err == nil:
		// A reader's key in a host's hands would let the host read all.
		return "", fmt.Errorf("key %s: %w reader %s", id, ErrKeyInUse, reader)
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("key %s: %w", id, err)
	}
	var keyRevoked *time.Time
	err = tx.QueryRow(ctx, `INSERT INTO host_keys (host_id, key_id, public_key) VALUES ($1, $2, $3)
		ON CONFLICT (host_id, key_id) DO UPDATE SET key_id = excluded.key_id
		RETURNING revoked_at`, hostID, id, []byte(pub)).Scan(&keyRevoked)
	switch {
	case err != nil:
		return "", fmt.Errorf("key %s: %w", id, err)
	case keyRevoked != nil:
		return "", fmt.Errorf("key %s: %w on %s", id, ErrKeyRevoked, keyRevoked.UTC().Format(time.RFC3339))
	}
	if err := tx.Commit(ctx); err != nil {
		return "", err
	}
	return id, nil
}

// HostByKey returns the host pub is enrolled for, and pub's key id, as the
// collector knows a host by the key of its client certificate. A key that
// is not enrolled (ErrUnknownKey) or revoked (ErrKeyRevoked), or whose host
// is revoked (ErrHostRevoked), is refused.
func (s *Store) HostByKey(ctx context.Context, pub ed25519.PublicKey) (host, keyID string, err error) {
	keyID = keys.ID(pub)
	var hostRevoked, keyRevoked bool
	// The whole key is compared, not just its id: an id is only 64 bits.
	err = s.pool.QueryRow(ctx, `SELECT h.name, h.revoked_at IS NOT NULL, k.revoked_at IS NOT NULL
		FROM host_keys k JOIN hosts h ON h.id = k.host_id
		WHERE k.key_id = $1 AND k.public_key = $2
		ORDER BY k.revoked_at NULLS FIRST LIMIT 1`, keyID, []byte(pub)).Scan(&host, &hostRevoked, &keyRevoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", keyID, fmt.Errorf("pgstore: host of key %s: %w", keyID, ErrUnknownKey)
	case err != nil:
		return "", keyID, fmt.Errorf("pgstore: host of key %s: %w", keyID, err)
	case keyRevoked:
		return host, keyID, fmt.Errorf("pgstore: key %s of host %s: %w", keyID, host, ErrKeyRevoked)
	case hostRevoked:
		return host, keyID, fmt.Errorf("pgstore: host %s of key %s: %w", host, keyID, ErrHostRevoked)
	}
	return host, keyID, nil
}

// Host is an enrolled host, as `vigil-collector hosts list` shows it.
type Host struct {
	Name       string
	EnrolledAt time.Time
	RevokedAt  *time.Time // nil: not revoked
	Keys       []HostKey  // in the order they were added
}

// HostKey is one of a host's keys.
type HostKey struct {
	ID        string
	AddedAt   time.Time
	RevokedAt *time.Time // nil: trusted
}

// Hosts lists the hosts, by name, with their keys.
func (s *Store) Hosts(ctx context.Context) ([]Host, error) {
	rows, err := s.pool.Query(ctx, `SELECT h.name, h.enrolled_at, h.revoked_at, k.key_id, k.added_at, k.revoked_at
		FROM hosts h LEFT JOIN host_keys k ON k.host_id = h.id
		ORDER BY h.name, k.added_at, k.key_id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list hosts: %w", err)
	}
	defer rows.Close()
	var hosts []Host
	for rows.Next() {
		var h Host
		var keyID *string
		var added *time.Time
		var keyRevoked *time.Time
		if err := rows.Scan(&h.Name, &h.EnrolledAt, &h.RevokedAt, &keyID, &added, &keyRevoked); err != nil {
			return nil, fmt.Errorf("pgstore: list hosts: %w", err)
		}
		if n := len(hosts); n == 0 || hosts[n-1].Name != h.Name {
			hosts = append(hosts, h)
		}
		if keyID != nil {
			last := &hosts[len(hosts)-1]
			last.Keys = append(last.Keys, HostKey{ID: *keyID, AddedAt: *added, RevokedAt: keyRevoked})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list hosts: %w", err)
	}
	return hosts, nil
}
