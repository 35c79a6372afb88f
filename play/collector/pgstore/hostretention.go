package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// Errors of what hosts ship of their retention.
var (
	ErrBadRecord       = errors.New("not a valid purge record")
	ErrRecordForged    = errors.New("purge record does not verify against the host's enrolled keys")
	ErrRecordRewritten = errors.New("another purge record is stored under this name")
	ErrBadHolds        = errors.New("invalid holds")
)

// AddHostPurgeRecord keeps one of host's purge records (rec/spec/purge.md
// §4), data being the file name's bytes. The record must parse, name
// host and verify against host's enrolled keys; it is then stored byte
// for byte, once: isNew is false when the same bytes were stored before,
// and other bytes under the same name are refused (ErrRecordRewritten),
// the stored copy staying.
func (s *Store) AddHostPurgeRecord(ctx context.Context, host, name string, data []byte) (isNew bool, err error) {
	isNew, err = s.addHostPurgeRecord(ctx, host, name, data)
	if err != nil {
		return false, fmt.Errorf("pgstore: purge record %s of host %s: %w", name, host, err)
	}
	return isNew, nil
}

func (s *Store) addHostPurgeRecord(ctx context.Context, host, name string, data []byte) (bool, error) {
	if !store.IsPurgeRecordName(name) {
		return false, fmt.Errorf("%w: %q is not the name of a purge record", ErrBadRecord, name)
	}
	env, rec, err := store.ParsePurgeRecord(data)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if rec.Host != host {
		return false, fmt.Errorf("%w: the record is of host %q", ErrWrongHost, rec.Host)
	}
	h, err := hostForAppend(ctx, s.pool, host)
	switch {
	case err != nil:
		return false, err
	case h.revoked:
		return false, ErrHostRevoked
	}
	var v store.Verdict
	env.Check(store.PurgeDomain, h.keys, &v)
	if v.State != verify.OK {
		return false, fmt.Errorf("%w: %s", ErrRecordForged, v.Detail)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO host_purges (host_id, name, seq, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT (host_id, name) DO NOTHING`, h.id, name, int64(rec.Seq), data)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var stored []byte
	if err := s.pool.QueryRow(ctx, "SELECT record FROM host_purges WHERE host_id = $1 AND name = $2",
		h.id, name).Scan(&stored); err != nil {
		return false, err
	}
	if !bytes.Equal(stored, data) {
		return false, ErrRecordRewritten
	}
	return false, nil
}

// HostPurges checks the purge records host shipped, as `vigilctl
// verify-purges` checks a host's directory: against the host's keys (its
// enrolled keys, revoked ones too: old records were signed with them) and
// the chain. Reports name the files, with the host's name.
func (s *Store) HostPurges(ctx context.Context, host string) ([]store.PurgeRecordReport, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.name, p.record FROM host_purges p JOIN hosts h ON h.id = p.host_id
		WHERE h.name = $1 ORDER BY p.name`, host)
	if err != nil {
		return nil, fmt.Errorf("pgstore: purge records of host %s: %w", host, err)
	}
	files, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.PurgeRecordFile, error) {
		var f store.PurgeRecordFile
		return f, row.Scan(&f.Name, &f.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: purge records of host %s: %w", host, err)
	}
	krows, err := s.pool.Query(ctx, `SELECT k.public_key FROM host_keys k JOIN hosts h ON h.id = k.host_id
		WHERE h.name = $1`, host)
	if err != nil {
		return nil, fmt.Errorf("pgstore: keys of host %s: %w", host, err)
	}
	pubs, err := pgx.CollectRows(krows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("pgstore: keys of host %s: %w", host, err)
	}
	trusted := keys.Set{}
	for _, p := range pubs {
		trusted.Add(p)
	}
	reports := store.VerifyPurgeRecords(files, trusted)
	for i := range reports {
		reports[i].File = host + "/purged/" + reports[i].File
	}
	return reports, nil
}

// SetHostHolds makes holds the legal holds host has in force: a hold it
// did not have is placed (one changed, released and placed again), one it
// no longer has is released. Only the host's own holds change: those
// placed at the collector (Hold) are not the host's to release.
func (s *Store) SetHostHolds(ctx context.Context, host string, holds []store.Hold) (placed, released int, err error) {
	placed, released, err = s.setHostHolds(ctx, host, holds)
	if err != nil {
		return 0, 0, fmt.Errorf("pgstore: holds of host %s: %w", host, err)
	}
	return placed, released, nil
}

func (s *Store) setHostHolds(ctx context.Context, host string, holds []store.Hold) (placed, released int, err error) {
	want := make(map[string]store.Hold, len(holds))
	recs := make([]string, 0, len(holds))
	for _, h := range holds {
		if err := store.CheckRecID(h.Rec); err != nil {
			return 0, 0, fmt.Errorf("%w: %v", ErrBadHolds, err)
		}
		if _, dup := want[h.Rec]; dup {
			return 0, 0, fmt.Errorf("%w: recording %s held twice", ErrBadHolds, h.Rec)
		}
		h.File, h.By, h.Reason = cleanText(h.File), cleanText(h.By), cleanText(h.Reason)
		want[h.Rec] = h
		recs = append(recs, h.Rec)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	// The host's row orders one host's updates; the rows of its held
	// recordings order the holds with a purge, as Hold does.
	var hostID int64
	var revoked bool
	err = tx.QueryRow(ctx, "SELECT id, revoked_at IS NOT NULL FROM hosts WHERE name = $1 FOR UPDATE", host).Scan(&hostID, &revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, 0, ErrUnknownHost
	case err != nil:
		return 0, 0, err
	case revoked:
		return 0, 0, ErrHostRevoked
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM recordings WHERE host_id = $1 AND rec = ANY($2) FOR SHARE",
		hostID, recs); err != nil {
		return 0, 0, err
	}
	rows, err := tx.Query(ctx, `SELECT id, rec, file, reason, held_by, held_at FROM host_holds
		WHERE host_id = $1 AND released_at IS NULL`, hostID)
	if err != nil {
		return 0, 0, err
	}
	type inForce struct {
		id   int64
		hold store.Hold
	}
	had, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inForce, error) {
		var f inForce
		err := row.Scan(&f.id, &f.hold.Rec, &f.hold.File, &f.hold.Reason, &f.hold.By, &f.hold.Since)
		return f, err
	})
	if err != nil {
		return 0, 0, err
	}
	var release []int64
	for _, f := range had {
		w, ok := want[f.hold.Rec]
		if ok && w.File == f.hold.File && w.By == f.hold.By && w.Reason == f.hold.Reason && w.Since.Truncate(time.Microsecond).Equal(f.hold.Since) {
			delete(want, f.hold.Rec) // in force as it is
			continue
		}
		release = append(release, f.id)
	}
	if len(release) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE host_holds SET released_at = now() WHERE id = ANY($1)", release); err != nil {
			return 0, 0, err
		}
	}
	// In the order of their recordings: holds placed together are listed
	// in one order every time (by held_at, then id).
	for _, rec := range slices.Sorted(maps.Keys(want)) {
		h := want[rec]
		if _, err := tx.Exec(ctx, `INSERT INTO host_holds (host_id, rec, file, reason, held_by, held_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, hostID, h.Rec, h.File, h.Reason, h.By, h.Since.UTC().Truncate(time.Microsecond)); err != nil {
			return 0, 0, err
		}
	}
	return len(want), len(release), tx.Commit(ctx)
}
