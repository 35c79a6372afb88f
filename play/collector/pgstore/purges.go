package pgstore

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// insertPurgeRecord signs r with key as the next purge record, chained to
// the one with the highest seq, and stores it in tx, which holds
// lockRetention's locks (one record at a time). It returns the record's seq and
// the SHA-256 of its bytes; r.V, r.Seq and r.Prev are set here.
func insertPurgeRecord(ctx context.Context, tx pgx.Tx, r *PurgeRecord, key ed25519.PrivateKey) (int64, string, error) {
	r.V, r.Seq, r.Prev = PurgeRecordVersion, 1, nil
	var prevSeq int64
	var prev []byte
	err := tx.QueryRow(ctx, "SELECT seq, record FROM purges ORDER BY seq DESC LIMIT 1").Scan(&prevSeq, &prev)
	switch {
	case err == nil:
		r.Seq, r.Prev = prevSeq+1, &PurgeLink{Seq: prevSeq, SHA256: store.SHA256Hex(prev)}
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, "", fmt.Errorf("purge record: the last one: %w", err)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return 0, "", fmt.Errorf("purge record: %w", err)
	}
	line := store.Sign(purgeDomain, body, key)
	_, err = tx.Exec(ctx, "INSERT INTO purges (seq, purged_at, purged_by, cutoff, record) VALUES ($1, $2, $3, $4, $5)",
		r.Seq, r.Time, r.By, r.Cutoff, line)
	if err != nil {
		return 0, "", fmt.Errorf("purge record: %w", err)
	}
	return r.Seq, store.SHA256Hex(line), nil
}

// PurgeReport is a stored purge record and what its verification found.
type PurgeReport struct {
	// The row's columns.
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	By     string    `json:"by"`
	Cutoff time.Time `json:"cutoff"`

	SHA256 string       `json:"sha256"`           // of the record's bytes
	Key    string       `json:"key,omitempty"`    // the id of the key that signed it
	Record *PurgeRecord `json:"record,omitempty"` // nil when it does not parse
	// OK, UNSIGNED, UNKNOWN_KEY, MISSING (the record before it is gone) or
	// MODIFIED, and why.
	store.Verdict
}

// Purges returns the purge records by seq, each verified: its signature
// against the trusted keys, its columns against what it says, and the
// chain (rec/spec/purge.md §7).
func (s *Store) Purges(ctx context.Context, trusted keys.Set) ([]PurgeReport, error) {
	rows, err := s.pool.Query(ctx, "SELECT seq, purged_at, purged_by, cutoff, record FROM purges ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("pgstore: purge records: %w", err)
	}
	var records [][]byte
	reps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PurgeReport, error) {
		var r PurgeReport
		var record []byte
		err := row.Scan(&r.Seq, &r.Time, &r.By, &r.Cutoff, &record)
		records = append(records, record)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: purge records: %w", err)
	}
	for i := range reps {
		checkPurgeRecord(&reps[i], records[i], trusted)
		checkPurgeLink(reps, i)
	}
	for i := range reps {
		reps[i].Named()
	}
	return reps, nil
}

// checkPurgeRecord parses record, the bytes of rep's row, and checks its
// signature and that the row's columns are what it says.
func checkPurgeRecord(rep *PurgeReport, record []byte, trusted keys.Set) {
	rep.Time, rep.Cutoff = rep.Time.UTC(), rep.Cutoff.UTC()
	rep.SHA256 = store.SHA256Hex(record)
	sr, err := store.ParseSigned(record)
	if err != nil {
		rep.Note(verify.Modified, "%v", err)
		return
	}
	rep.Key = sr.Key
	var r PurgeRecord
	if err := sr.DecodeBody(&r, func() int { return r.V }, PurgeRecordVersion); err != nil {
		rep.Note(verify.Modified, "%v", err)
	} else {
		rep.Record = &r
		if r.Seq != rep.Seq || !r.Time.Equal(rep.Time) || r.By != rep.By || !r.Cutoff.Equal(rep.Cutoff) {
			rep.Note(verify.Modified, "the row says seq %d, time %s, by %q, cutoff %s; its record seq %d, time %s, by %q, cutoff %s",
				rep.Seq, rep.Time.Format(time.RFC3339Nano), rep.By, rep.Cutoff.Format(time.RFC3339Nano),
				r.Seq, r.Time.Format(time.RFC3339Nano), r.By, r.Cutoff.Format(time.RFC3339Nano))
		}
	}
	sr.Check(purgeDomain, trusted, &rep.Verdict)
}

// checkPurgeLink checks that record i, whose predecessors are checked,
// links to the record before it.
func checkPurgeLink(reps []PurgeReport, i int) {
	rep := &reps[i]
	switch {
	case rep.Seq == 1:
		if rep.Record != nil && rep.Record.Prev != nil {
			rep.Note(verify.Modified, "seq 1 links to seq %d", rep.Record.Prev.Seq)
		}
	case i == 0 || reps[i-1].Seq != rep.Seq-1:
		rep.Note(verify.Missing, "the record before it, seq %d, is missing", rep.Seq-1)
	case rep.Record == nil:
	case rep.Record.Prev == nil || rep.Record.Prev.Seq != rep.Seq-1:
		rep.Note(verify.Modified, "seq %d does not link to seq %d", rep.Seq, rep.Seq-1)
	case rep.Record.Prev.SHA256 != reps[i-1].SHA256:
		reps[i-1].Note(verify.Modified, "differs from what the next record, seq %d, recorded of it", rep.Seq)
	}
}
