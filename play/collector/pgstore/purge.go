package pgstore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Retention at the collector goes by the month of the partition holding a
// recording's bytes (the month it started): a month that ended by the
// cutoff is due, and its partition is dropped whole unless it holds a
// recording that must be kept; then the others are deleted row by row, and
// a later purge drops the partition. A recording is kept while it is under
// a legal hold, and while it was appended to after the cutoff: still being
// written, or shipped late, it has not been over for the retention yet.
// Every purge that deletes anything writes a signed record of what it
// deleted, in the same transaction (rec/spec/purge.md §7).

// PurgeRecordVersion is the format version of the collector's purge
// records.
const PurgeRecordVersion = 1

// purgeDomain prefixes what a collector's purge record's signature covers
// (rec/store.Sign): neither a host's record nor a recording's signature
// passes for one.
const purgeDomain = "vigil-collector-purge-v1\n"

// PurgeOptions say what to purge and how to record it.
type PurgeOptions struct {
	Cutoff time.Time // the months that ended by then are due; not after now
	DryRun bool      // find what is due; lock, delete and record nothing
	// Signs the record; not read in a dry run.
	Key ed25519.PrivateKey
	// For the record: this collector's host name, and who runs purge.
	Collector, By string
}

// PurgeRecord is the body of a collector's purge record: what one purge
// deleted.
type PurgeRecord struct {
	V          int               `json:"v"`
	Seq        int64             `json:"seq"`  // 1 for the first purge of the database
	Prev       *PurgeLink        `json:"prev"` // the record before, nil for seq 1
	Time       time.Time         `json:"time"` // when purge ran
	Collector  string            `json:"collector"`
	By         string            `json:"by"`
	Cutoff     time.Time         `json:"cutoff"`
	Recordings []PurgedRecording `json:"recordings"`
}

// PurgeLink is the previous record's seq and the SHA-256 of its bytes.
type PurgeLink struct {
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
}

// PurgedRecording is a recording purge deleted (or found due), as the
// record lists it: what identifies it and lets an auditor match it with a
// copy kept elsewhere.
type PurgedRecording struct {
	Host     string    `json:"host"`
	File     string    `json:"file"`
	Rec      string    `json:"rec"`
	User     string    `json:"user"`
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Month    time.Time `json:"month"` // of its partition
	Bytes    int64     `json:"bytes"`
	LastHash string    `json:"last_hash"`
	State    string    `json:"state"` // rec/verify's, of the bytes stored
}

// KeptRecording is a recording of a due month that purge kept, and why:
// Hold is the hold in force, else it was appended to after the cutoff.
type KeptRecording struct {
	PurgedRecording
	Hold      *Hold     `json:"hold,omitempty"`
	UpdatedAt time.Time `json:"updated_at"` // of its last append
}

// PurgeResult is what a purge did, or in a dry run would do.
type PurgeResult struct {
	Purged  []PurgedRecording `json:"purged"`
	Kept    []KeptRecording   `json:"kept"`
	Dropped []time.Time       `json:"dropped"` // months whose partitions were dropped
	// The record written (none when nothing was deleted, or in a dry run).
	Seq    int64  `json:"seq,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Purge deletes the recordings of the months that ended by o.Cutoff,
// except those it must keep (KeptRecording), and records what it deleted,
// all in one transaction: a failure deletes nothing. Months whose
// recordings all go lose their partitions; empty partitions of due months
// are dropped too.
//
// It takes the locks as DropPartition and appends do: the partitions'
// advisory lock, then the rows of the recordings it deletes, then their
// data. Appends to other recordings go on meanwhile, until the partitions
// are dropped at the end, which holds off inserts of recording bytes until
// the commit; an append that must first make a month's partition waits
// for the purge.
func (s *Store) Purge(ctx context.Context, o PurgeOptions) (*PurgeResult, error) {
	res, dropped, err := s.purge(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("pgstore: purge up to %s: %w", o.Cutoff.UTC().Format(time.RFC3339), err)
	}
	for _, m := range dropped {
		s.forgetPartition(m)
	}
	return res, nil
}

func (s *Store) purge(ctx context.Context, o PurgeOptions) (*PurgeResult, []time.Time, error) {
	now := time.Now()
	switch {
	case o.Cutoff.After(now):
		return nil, nil, errors.New("the cutoff is in the future")
	case !o.DryRun && o.Key == nil:
		return nil, nil, errors.New("no key to sign the purge record")
	}
	// The record keeps whole seconds (and PostgreSQL microseconds): an
	// earlier cutoff keeps as much or more.
	cutoff := o.Cutoff.UTC().Truncate(time.Second)
	// Every month before the cutoff's has ended by then.
	due := monthOf(cutoff)
	txOpts := pgx.TxOptions{}
	if o.DryRun {
		txOpts.AccessMode = pgx.ReadOnly
	}
	tx, err := s.pool.BeginTx(ctx, txOpts)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	if !o.DryRun {
		// One change of partitions at a time, and one purge record.
		if err := lockRetention(ctx, tx); err != nil {
			return nil, nil, fmt.Errorf("lock: %w", err)
		}
		// Locking the rows waits for the appends under way to them, and
		// keeps off new appends and new holds (which lock the row too); the
		// holds are read after, by a statement that sees those placed
		// meanwhile.
		_, err := tx.Exec(ctx, "SELECT count(*) FROM (SELECT 1 FROM recordings WHERE month < $1 ORDER BY id FOR UPDATE) r", due)
		if err != nil {
			return nil, nil, fmt.Errorf("lock the recordings: %w", err)
		}
	}
	pl, err := planPurge(ctx, tx, due, cutoff)
	if err != nil {
		return nil, nil, err
	}
	res := pl.res
	months, err := partitions(ctx, tx)
	if err != nil {
		return nil, nil, fmt.Errorf("partitions: %w", err)
	}
	// The due months that have a partition, or a recording to delete
	// whose partition is gone (dropped by hand).
	for m := range pl.ids {
		months = append(months, m)
	}
	slices.SortFunc(months, time.Time.Compare)
	for _, m := range slices.CompactFunc(months, time.Time.Equal) {
		if m.Before(due) && !pl.keeps[m] {
			res.Dropped = append(res.Dropped, m)
		}
	}
	if o.DryRun {
		return res, nil, nil
	}
	// In the months that keep a recording, the others go row by row: their
	// rows first, as in dropPartitions.
	for m := range pl.keeps {
		if len(pl.ids[m]) == 0 {
			continue
		}
		for _, sql := range []string{
			"DELETE FROM recordings WHERE id = ANY($1) AND month = $2",
			"DELETE FROM chunks WHERE recording_id = ANY($1) AND month = $2",
			"DELETE FROM texts_recent WHERE recording_id = ANY($1) AND month = $2",
			"DELETE FROM texts WHERE recording_id = ANY($1) AND month = $2",
		} {
			if _, err := tx.Exec(ctx, sql, pl.ids[m], m); err != nil {
				return nil, nil, fmt.Errorf("delete the recordings due in %s: %w", m.Format("2006-01"), err)
			}
		}
	}
	// The partitions go last: dropping one holds off every append's
	// insert until the commit.
	n, err := dropPartitions(ctx, tx, res.Dropped)
	if err != nil {
		return nil, nil, err
	}
	for i, m := range res.Dropped {
		if want := int64(len(pl.ids[m])); n[i] != want {
			// Some arrived since they were read: not in the record.
			return nil, nil, fmt.Errorf("drop partition %s: %d recording(s) where %d were due; nothing dropped, try again", partitionName(m), n[i], want)
		}
	}
	// Command logs go with their recordings (rec/spec/commands.md); one
	// written since the cutoff may be ahead of its recording, and stays.
	if _, err := tx.Exec(ctx, `DELETE FROM command_logs c WHERE c.updated_at < $1
		AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.host_id = c.host_id AND r.rec = c.rec)`, cutoff); err != nil {
		return nil, nil, fmt.Errorf("delete the command logs of purged recordings: %w", err)
	}
	if len(res.Purged) > 0 {
		r := &PurgeRecord{Time: now.UTC().Truncate(time.Second), Collector: cleanText(o.Collector), By: cleanText(o.By),
			Cutoff: cutoff, Recordings: res.Purged}
		if res.Seq, res.SHA256, err = insertPurgeRecord(ctx, tx, r, o.Key); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("commit: %w", err)
	}
	return res, res.Dropped, nil
}

// purgePlan is what a purge found: its result so far, and what it needs to
// delete.
type purgePlan struct {
	res   *PurgeResult
	ids   map[time.Time][]int64 // of the recordings to delete, by month
	keeps map[time.Time]bool    // months with a recording to keep
}

// planPurge reads the recordings of the months before due: those to
// delete, and those to keep.
func planPurge(ctx context.Context, tx pgx.Tx, due, cutoff time.Time) (*purgePlan, error) {
	rows, err := tx.Query(ctx, `SELECT r.id, h.name, r.file, r.rec, r.user_name, r.start_time, r.end_time, r.month,
			r.bytes, r.last_hash, r.state, r.updated_at, k.id, hh.id, hh.reason, hh.held_by || '`+onHost+`', hh.held_at
		FROM recordings r JOIN hosts h ON h.id = r.host_id`+joinHolds+`
		WHERE r.month < $1 ORDER BY r.month, h.name, r.file`, due)
	if err != nil {
		return nil, fmt.Errorf("due recordings: %w", err)
	}
	defer rows.Close()
	pl := &purgePlan{res: &PurgeResult{Purged: []PurgedRecording{}, Kept: []KeptRecording{}},
		ids: map[time.Time][]int64{}, keeps: map[time.Time]bool{}}
	held := map[int64]int{} // hold id: index in Kept
	for rows.Next() {
		var id int64
		var k KeptRecording
		var start, end *time.Time
		var holdID, hostHoldID *int64
		var hostReason, hostBy *string
		var hostSince *time.Time
		p := &k.PurgedRecording
		err := rows.Scan(&id, &p.Host, &p.File, &p.Rec, &p.User, &start, &end, &p.Month, &p.Bytes, &p.LastHash, &p.State,
			&k.UpdatedAt, &holdID, &hostHoldID, &hostReason, &hostBy, &hostSince)
		if err != nil {
			return nil, fmt.Errorf("due recordings: %w", err)
		}
		if start != nil {
			p.Start = start.UTC()
		}
		if end != nil {
			p.End = end.UTC()
		}
		p.Month = p.Month.UTC()
		if holdID == nil && hostHoldID == nil && !k.UpdatedAt.After(cutoff) {
			pl.res.Purged = append(pl.res.Purged, *p)
			pl.ids[p.Month] = append(pl.ids[p.Month], id)
			continue
		}
		switch {
		case holdID != nil: // the collector's hold is read below
			held[*holdID] = len(pl.res.Kept)
		case hostHoldID != nil:
			k.Hold = &Hold{ID: *hostHoldID, RecordingID: id, Host: p.Host, File: p.File, Reason: *hostReason,
				By: *hostBy, Since: *hostSince, Origin: OriginHost}
		}
		pl.keeps[p.Month] = true
		pl.res.Kept = append(pl.res.Kept, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due recordings: %w", err)
	}
	rows.Close()
	if len(held) == 0 {
		return pl, nil
	}
	hrows, err := tx.Query(ctx, "SELECT "+holdColumns+" FROM holds k WHERE k.id = ANY($1)", slices.Collect(maps.Keys(held)))
	if err != nil {
		return nil, fmt.Errorf("holds: %w", err)
	}
	hs, err := pgx.CollectRows(hrows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("holds: %w", err)
	}
	for _, h := range hs {
		pl.res.Kept[held[h.ID]].Hold = &h
	}
	return pl, nil
}
