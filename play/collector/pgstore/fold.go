package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// lockFold keeps folds from running at once across collectors.
const lockFold int64 = 0x76696769_6c000003

// FoldInterval is how often a collector folds texts: what is recent is
// searched by a scan, which 5 s of the fleet's output keeps short.
const FoldInterval = 5 * time.Second

// FoldTexts moves the texts of recent appends (texts_recent) into texts,
// whose grams are indexed, a recording's many appends in one row of up to
// about maxTextsRow bytes, and returns the rows it moved. It works in
// batches of the rows of foldRecordings recordings, at most foldBatch rows,
// each its own transaction: one fold of everything behind (a minute of
// 200 hosts) sorted gigabytes and held the index for minutes while the
// backlog grew. Batches of rows as they came made rows of one or two
// appends when 200 hosts append four times a second: many small rows,
// each its grams' entries in the index. It folds what was there when
// it started, not what comes meanwhile: under load it would never end.
// Appends under way are untouched: their rows are not visible to it yet.
// Another collector's fold goes first.
func (s *Store) FoldTexts(ctx context.Context) (int64, error) {
	var recs int
	if err := s.pool.QueryRow(ctx, "SELECT count(DISTINCT recording_id) FROM texts_recent").Scan(&recs); err != nil {
		return 0, fmt.Errorf("pgstore: fold texts: %w", err)
	}
	var total int64
	for batches := (recs + foldRecordings - 1) / foldRecordings; batches > 0; {
		moved, err := s.foldBatch(ctx)
		total += moved
		if err != nil {
			return total, fmt.Errorf("pgstore: fold texts: %w", err)
		}
		if moved == 0 {
			break
		}
		if moved < foldBatch { // else the same recordings have more
			batches--
		}
	}
	return total, nil
}

// One fold transaction moves the rows of at most foldRecordings
// recordings, at most foldBatch rows.
const (
	foldRecordings = 32
	foldBatch      = 1024
)

// foldRow is a new row of texts: the recent rows it joins and their
// (case-sensitive) grams.
type foldRow struct {
	recording int64
	month     time.Time
	off       int64
	rows      []pgtype.TID
	grams     [][]byte
}

func (s *Store) foldBatch(ctx context.Context) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	// One fold at a time across collectors (and none during a purge);
	// each batch is short, so waiting is.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockFold); err != nil {
		return 0, err
	}
	// Each recording's rows in order of offset, cut into rows of about
	// maxTextsRow bytes. The rows are locked: a purge deleting them waits,
	// then finds them in texts. The bodies are joined by PostgreSQL, the
	// grams here: PostgreSQL has no cheap union of sorted arrays (unnest
	// and DISTINCT took longer than pg_trgm's extraction).
	rows, err := tx.Query(ctx, `SELECT ctid, recording_id, month, off, octet_length(body), grams FROM texts_recent
		WHERE recording_id IN (SELECT recording_id FROM texts_recent GROUP BY recording_id LIMIT $1)
		ORDER BY recording_id, month, off LIMIT $2 FOR UPDATE`, foldRecordings, foldBatch)
	if err != nil {
		return 0, err
	}
	var (
		folds []*foldRow
		all   []pgtype.TID
		size  int64 // of the bodies of the last fold's recording and month
	)
	for rows.Next() {
		var (
			tid   pgtype.TID
			rec   int64
			month time.Time
			off   int64
			n     int64
			grams []byte
		)
		if err := rows.Scan(&tid, &rec, &month, &off, &n, &grams); err != nil {
			return 0, err
		}
		last := len(folds) - 1
		if last < 0 || folds[last].recording != rec || !folds[last].month.Equal(month) {
			size = 0
		}
		if size == 0 || size+n > maxTextsRow {
			folds = append(folds, &foldRow{recording: rec, month: month, off: off})
			last++
			size = 0
		}
		f := folds[last]
		f.rows = append(f.rows, tid)
		f.grams = append(f.grams, grams)
		size += n + 1
		all = append(all, tid)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var b pgx.Batch
	for _, f := range folds {
		cased := unionGrams(f.grams)
		b.Queue(`INSERT INTO texts (recording_id, month, off, body, grams, case_bloom)
			SELECT $1, $2, $3, string_agg(body, E'\n' ORDER BY off), $4, $5 FROM texts_recent WHERE ctid = ANY ($6)`,
			f.recording, f.month, f.off, lowerGrams(cased), caseBloom(cased), f.rows)
	}
	b.Queue("DELETE FROM texts_recent WHERE ctid = ANY ($1)", all)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return 0, err
	}
	return int64(len(all)), tx.Commit(ctx)
}

// FoldEvery runs FoldTexts every interval until ctx ends, logging
// failures (the texts stay in texts_recent, searched all the same).
func (s *Store) FoldEvery(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.FoldTexts(ctx); err != nil && ctx.Err() == nil {
				log.Error("fold texts into the search index", "error", err)
			}
		}
	}
}
