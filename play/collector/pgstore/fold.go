package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// lockFold keeps folds from running at once across collectors.
const lockFold int64 = 0x76696769_6c000003

// FoldInterval is how often a collector folds texts: what is recent is
// searched by a scan, which 5 s of the fleet's output keeps short.
const FoldInterval = 5 * time.Second

// FoldTexts moves the texts of recent appends (texts_recent) into texts,
// whose words are trigram-indexed, a recording's many appends in one row
// of up to about maxTextsRow bytes, and returns the rows it moved. It works in
// batches of the rows of foldRecordings recordings, at most foldBatch rows,
// each its own transaction: one fold of everything behind (a minute of
// 200 hosts) sorted gigabytes and held the index for minutes while the
// backlog grew. Batches of rows as they came made rows of one or two
// appends when 200 hosts append four times a second: many small rows,
// each its trigrams' entries in the index. It folds what was there when
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
	// maxTextsRow bytes. The insert runs though nothing reads its result:
	// PostgreSQL runs every data-modifying WITH to completion. The words
	// of the appends are joined as they are (each append's distinct):
	// making them distinct again here cost the collector, in reading the
	// texts back and writing them, what it saved PostgreSQL.
	var moved int64
	err = tx.QueryRow(ctx, `WITH moved AS (
			DELETE FROM texts_recent WHERE ctid = ANY (ARRAY(SELECT ctid FROM texts_recent WHERE recording_id IN
				(SELECT recording_id FROM texts_recent GROUP BY recording_id LIMIT $3) LIMIT $2))
			RETURNING recording_id, month, off, body, words),
		bucketed AS (SELECT recording_id, month, off, body, words,
			(sum(octet_length(body)) OVER (PARTITION BY recording_id, month ORDER BY off ROWS UNBOUNDED PRECEDING)
				- octet_length(body)) / $1 AS bucket FROM moved),
		inserted AS (INSERT INTO texts (recording_id, month, off, body, words)
			SELECT recording_id, month, min(off), string_agg(body, E'\n' ORDER BY off), string_agg(words, '' ORDER BY off)
			FROM bucketed GROUP BY recording_id, month, bucket)
		SELECT count(*) FROM moved`, maxTextsRow, foldBatch, foldRecordings).Scan(&moved)
	if err != nil {
		return 0, err
	}
	return moved, tx.Commit(ctx)
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
