package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Errors of holds.
var (
	ErrHeld    = errors.New("already held")
	ErrNotHeld = errors.New("not held")
)

// Hold is a legal hold on a recording: purge keeps the recording while the
// hold is in force. A released hold stays, for the record. Holds placed at
// the collector have Origin "collector"; those a host has in force
// (SetHostHolds) "host", and hold every file of the host's recording id.
type Hold struct {
	ID          int64      `json:"id"`
	RecordingID int64      `json:"recording_id"`
	Host        string     `json:"host"`
	File        string     `json:"file"`
	Reason      string     `json:"reason"`
	By          string     `json:"by"`
	Since       time.Time  `json:"since"`
	ReleasedBy  string     `json:"released_by,omitempty"`
	ReleasedAt  *time.Time `json:"released_at,omitempty"` // nil: in force
	Origin      string     `json:"origin"`
}

// Origins of holds.
const (
	OriginCollector = "collector"
	OriginHost      = "host"
)

// joinHolds joins recordings r to the holds in force on them: the
// collector's (k) and their host's (hh, by rec id). At most one of each.
const joinHolds = `
		LEFT JOIN holds k ON k.recording_id = r.id AND k.released_at IS NULL
		LEFT JOIN host_holds hh ON hh.host_id = r.host_id AND hh.rec = r.rec AND r.rec <> '' AND hh.released_at IS NULL`

// onHost follows who placed a host's hold, as the collector shows it (in
// queries, as a literal).
const onHost = " (on the host)"

// holdColumns are what scanHold reads, of holds k.
const holdColumns = "k.id, k.recording_id, k.host, k.file, k.reason, k.held_by, k.held_at, k.released_by, k.released_at, 'collector'"

func scanHold(row pgx.CollectableRow) (Hold, error) {
	var h Hold
	var releasedBy *string
	err := row.Scan(&h.ID, &h.RecordingID, &h.Host, &h.File, &h.Reason, &h.By, &h.Since, &releasedBy, &h.ReleasedAt, &h.Origin)
	if releasedBy != nil {
		h.ReleasedBy = *releasedBy
	}
	return h, err
}

// Hold puts host's recording file under a legal hold, placed by by for
// reason. A recording already held is refused (ErrHeld): release it first
// to change the hold.
func (s *Store) Hold(ctx context.Context, host, file, reason, by string) error {
	if err := s.hold(ctx, host, file, reason, by); err != nil {
		return fmt.Errorf("pgstore: hold %s of host %s: %w", file, host, err)
	}
	return nil
}

func (s *Store) hold(ctx context.Context, host, file, reason, by string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// The row's lock orders the hold with a purge, which locks the rows it
	// deletes before it reads their holds: the purge either sees this
	// hold, or deleted the recording before it was placed.
	var id int64
	err = tx.QueryRow(ctx, `SELECT r.id FROM recordings r JOIN hosts h ON h.id = r.host_id
		WHERE h.name = $1 AND r.file = $2 FOR SHARE OF r`, host, file).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO holds (recording_id, host, file, reason, held_by) VALUES ($1, $2, $3, $4, $5)`,
		id, host, file, cleanText(reason), cleanText(by))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: one hold in force
		// The transaction failed: the hold in force is read outside it.
		rows, err := s.pool.Query(ctx, "SELECT "+holdColumns+" FROM holds k WHERE k.recording_id = $1 AND k.released_at IS NULL", id)
		if err != nil {
			return err
		}
		old, err := pgx.CollectExactlyOneRow(rows, scanHold)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w since %s by %s (%s); release it first to change the hold",
			ErrHeld, old.Since.UTC().Format(time.RFC3339), old.By, old.Reason)
	}
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Release lifts the hold in force on host's recording file, as by, and
// returns it; without one it is ErrNotHeld. The recording need not exist
// any more.
func (s *Store) Release(ctx context.Context, host, file, by string) (*Hold, error) {
	rows, err := s.pool.Query(ctx, `UPDATE holds k SET released_by = $3, released_at = now()
		WHERE k.host = $1 AND k.file = $2 AND k.released_at IS NULL RETURNING `+holdColumns, host, file, cleanText(by))
	if err != nil {
		return nil, fmt.Errorf("pgstore: release %s of host %s: %w", file, host, err)
	}
	hs, err := pgx.CollectRows(rows, scanHold)
	switch {
	case err != nil:
		return nil, fmt.Errorf("pgstore: release %s of host %s: %w", file, host, err)
	case len(hs) == 0:
		return nil, fmt.Errorf("pgstore: release %s of host %s: %w", file, host, ErrNotHeld)
	}
	return &hs[0], nil
}

// Holds lists the holds, those released too, oldest first: the
// collector's, and the hosts' (their file the base name of the path the
// host's hold names, RecordingID 0).
func (s *Store) Holds(ctx context.Context) ([]Hold, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+holdColumns+` FROM holds k
		UNION ALL
		SELECT hh.id, 0, h.name, regexp_replace(hh.file, '^.*/', ''), hh.reason, hh.held_by || '`+onHost+`', hh.held_at,
			CASE WHEN hh.released_at IS NOT NULL THEN 'the host' END, hh.released_at, 'host'
		FROM host_holds hh JOIN hosts h ON h.id = hh.host_id
		ORDER BY 7, 1`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list holds: %w", err)
	}
	hs, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list holds: %w", err)
	}
	return hs, nil
}
