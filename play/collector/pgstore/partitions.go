package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// A recording's bytes go to the partition of chunks of the month (UTC) its
// first message says it started, so that retention, dropping the partition
// of a month, deletes whole recordings. Months keep the partitions few (a
// dozen a year: queries plan fast) at the price of retention by the month.
//
// The start is the host's word: a start after the collector's clock (a
// clock ahead, or no wall-clock time at all) counts as now, so that no
// recording escapes retention in a future partition; one more than
// maxBacklog before now counts as maxBacklog before now, so that a host's
// clock far behind cannot make partitions without bound, and a recording
// shipped late is kept longer rather than dropped at once.
const maxBacklog = 366 * 24 * time.Hour

// monthOf is the first day of t's month in UTC.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// partitionMonth is the month of the partition of a recording that started
// at start (zero: unknown), received at now.
func partitionMonth(start, now time.Time) time.Time {
	switch {
	case start.IsZero() || start.After(now):
		return monthOf(now)
	case start.Before(now.Add(-maxBacklog)):
		return monthOf(now.Add(-maxBacklog))
	}
	return monthOf(start)
}

// partitionName is the table of month's chunks.
func partitionName(month time.Time) string {
	return fmt.Sprintf("chunks_%04d_%02d", month.Year(), int(month.Month()))
}

// textsPartitionName is the table of month's texts (search's index).
func textsPartitionName(month time.Time) string {
	return fmt.Sprintf("texts_%04d_%02d", month.Year(), int(month.Month()))
}

// ensurePartition creates the partition of month unless this Store knows
// it exists. It is its own transaction: creating a partition locks all of
// chunks, which an append holding its recording's row must not wait for.
func (s *Store) ensurePartition(ctx context.Context, month time.Time) error {
	s.mu.Lock()
	known := s.parts[month]
	s.mu.Unlock()
	if known {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("partition %s: %w", partitionName(month), err)
	}
	defer tx.Rollback(ctx)
	// Two collectors creating the same table at once would clash in the
	// catalog, IF NOT EXISTS notwithstanding.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockPartitions); err != nil {
		return fmt.Errorf("partition %s: lock: %w", partitionName(month), err)
	}
	// DDL takes no parameters; the name and bounds are made here from a
	// time, not from anyone's text.
	for table, name := range map[string]string{"chunks": partitionName(month), "texts": textsPartitionName(month)} {
		sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
			name, table, month.Format(time.DateOnly), month.AddDate(0, 1, 0).Format(time.DateOnly))
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("partition %s: %w", partitionName(month), err)
	}
	s.mu.Lock()
	s.parts[month] = true
	s.mu.Unlock()
	return nil
}

// forgetPartition drops what this Store knows of month's partition: it was
// dropped, maybe by another collector.
func (s *Store) forgetPartition(month time.Time) {
	s.mu.Lock()
	delete(s.parts, month)
	s.mu.Unlock()
}

// Partitions returns the months that have a partition of recording bytes,
// oldest first.
func (s *Store) Partitions(ctx context.Context) ([]time.Time, error) {
	months, err := partitions(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("pgstore: partitions: %w", err)
	}
	return months, nil
}

func partitions(ctx context.Context, q querier) ([]time.Time, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'chunks'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var months []time.Time
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		m, err := time.Parse("chunks_2006_01", name)
		if err != nil {
			return nil, fmt.Errorf("partition %s is not named chunks_YYYY_MM", name)
		}
		months = append(months, m)
	}
	return months, rows.Err()
}

// DropPartition deletes the recordings of the month that holds t, their
// metadata, their bytes and their texts, by dropping that month's partition, and
// returns how many recordings it deleted. Which months to drop (and what
// must be kept) is the caller's decision. Appends to a deleted recording
// find none: the host's resend starts it anew.
func (s *Store) DropPartition(ctx context.Context, t time.Time) (int64, error) {
	month := monthOf(t)
	name := partitionName(month)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("pgstore: drop partition %s: %w", name, err)
	}
	defer tx.Rollback(ctx)
	if err := lockRetention(ctx, tx); err != nil {
		return 0, fmt.Errorf("pgstore: drop partition %s: lock: %w", name, err)
	}
	n, err := dropPartitions(ctx, tx, []time.Time{month})
	if err != nil {
		return 0, fmt.Errorf("pgstore: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: drop partition %s: %w", name, err)
	}
	s.forgetPartition(month)
	return n[0], nil
}

// lockRetention takes for tx what deleting recordings needs: the
// partitions' lock, and the folds' (a fold of texts of a recording being
// deleted would wait for the deleting transaction's row locks while it
// holds the texts that dropping a partition must lock).
func lockRetention(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock($2)", lockPartitions, lockFold)
	return err
}

// dropPartitions deletes the months' recordings and drops their partitions
// in tx, which holds lockRetention's locks, and returns how many recordings
// of each month it deleted.
func dropPartitions(ctx context.Context, tx pgx.Tx, months []time.Time) ([]int64, error) {
	if len(months) == 0 {
		return nil, nil
	}
	// The rows first: an append holding one finishes before this goes on,
	// and none waits for chunks, locked by a drop, while holding a row
	// this needs.
	n := make([]int64, len(months))
	for i, m := range months {
		tag, err := tx.Exec(ctx, "DELETE FROM recordings WHERE month = $1", m)
		if err != nil {
			return nil, fmt.Errorf("drop partition %s: %w", partitionName(m), err)
		}
		n[i] = tag.RowsAffected()
		// The texts not folded yet are not in the partitions.
		if _, err := tx.Exec(ctx, "DELETE FROM texts_recent WHERE month = $1", m); err != nil {
			return nil, fmt.Errorf("drop partition %s: %w", partitionName(m), err)
		}
	}
	for _, m := range months {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+partitionName(m)+", "+textsPartitionName(m)); err != nil {
			return nil, fmt.Errorf("drop partition %s: %w", partitionName(m), err)
		}
	}
	// A recording of a month that an append made and committed between
	// the delete and the drop would be left without its bytes. The drops
	// waited for such appends, and hold off any other until the commit:
	// one more look finds them all.
	var late int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM recordings WHERE month = ANY($1)", months).Scan(&late); err != nil {
		return nil, fmt.Errorf("drop partitions: %w", err)
	}
	if late > 0 {
		return nil, fmt.Errorf("drop partitions: %d recording(s) arrived meanwhile; nothing dropped, try again", late)
	}
	return n, nil
}
