package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/verify"
)

// ErrCommandsForged refuses command log lines that do not verify against
// the sending host's enrolled keys, or do not continue what is stored.
var ErrCommandsForged = errors.New("command log does not verify")

// AppendCommands appends whole lines of host's command log file (REC.jsonl
// in its commands/) at offset off, as Append does for recordings: it
// returns the bytes held, which differ from off+len(data) when off was not
// the end of what is held (nothing is stored then). The lines must
// continue the stored log's chain, verify against host's enrolled keys
// and, from the first, name host.
func (s *Store) AppendCommands(ctx context.Context, host, file string, off int64, data []byte) (int64, error) {
	acked, err := s.appendCommands(ctx, host, file, off, data)
	if err != nil {
		return acked, fmt.Errorf("pgstore: command log %s of host %s at %d: %w", file, host, off, err)
	}
	return acked, nil
}

func (s *Store) appendCommands(ctx context.Context, host, file string, off int64, data []byte) (int64, error) {
	rec, ok := commands.RecOf(file)
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: %q is not the name of a command log", ErrNotLines, file)
	case len(data) > 0 && data[len(data)-1] != '\n':
		return 0, ErrNotLines
	}
	h, err := hostForAppend(ctx, s.pool, host)
	switch {
	case err != nil:
		return 0, err
	case h.revoked:
		return 0, ErrHostRevoked
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if len(data) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO command_logs (host_id, rec) VALUES ($1, $2) ON CONFLICT DO NOTHING`, h.id, rec); err != nil {
			return 0, err
		}
	}
	var c commands.Chain
	var size int64
	var start *time.Time
	err = tx.QueryRow(ctx, `SELECT size, lines, seq, prev, commands, ended, start_time FROM command_logs
		WHERE host_id = $1 AND rec = $2 FOR UPDATE`, h.id, rec).Scan(&size, &c.Lines, &c.Seq, &c.Prev, &c.Execs, &c.Ended, &start)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil // nothing held, nothing sent
	case err != nil:
		return 0, err
	case off != size || len(data) == 0:
		return size, nil
	}
	if start != nil {
		c.Start = *start
	}
	entries, rep, next := commands.VerifyFrom(c, data, rec, h.keys)
	if rep.LinesState != verify.OK {
		return 0, fmt.Errorf("%w: %s at line %d: %s", ErrCommandsForged, rep.LinesState, rep.Line, rep.Detail)
	}
	if c.Lines == 0 && entries[0].Host != host {
		return 0, fmt.Errorf("%w: the command log is of host %q", ErrWrongHost, entries[0].Host)
	}
	var startTime *time.Time
	if !next.Start.IsZero() {
		startTime = &next.Start
	}
	if _, err := tx.Exec(ctx, `INSERT INTO command_log_chunks (host_id, rec, off, data) VALUES ($1, $2, $3, $4)`,
		h.id, rec, size, data); err != nil {
		return 0, err
	}
	size += int64(len(data))
	if _, err := tx.Exec(ctx, `UPDATE command_logs SET size = $3, lines = $4, seq = $5, prev = $6,
		commands = $7, ended = $8, start_time = $9, updated_at = now() WHERE host_id = $1 AND rec = $2`,
		h.id, rec, size, next.Lines, int64(next.Seq), next.Prev, next.Execs, next.Ended, startTime); err != nil {
		return 0, err
	}
	return size, tx.Commit(ctx)
}

// CommandLog returns the bytes of the command log of host's recording
// rec (ErrNotFound when none was shipped).
func (s *Store) CommandLog(ctx context.Context, host, rec string) ([]byte, error) {
	// One statement, so the log and its pieces are of one snapshot.
	rows, err := s.pool.Query(ctx, `SELECT k.data FROM command_logs c JOIN hosts h ON h.id = c.host_id
		LEFT JOIN command_log_chunks k ON k.host_id = c.host_id AND k.rec = c.rec
		WHERE h.name = $1 AND c.rec = $2 ORDER BY k.off`, host, rec)
	if err != nil {
		return nil, err
	}
	var data, piece []byte
	found := false
	_, err = pgx.ForEachRow(rows, []any{&piece}, func() error {
		found = true // a log without pieces has one row, of NULL
		data = append(data, piece...)
		return nil
	})
	if err == nil && !found {
		return nil, ErrNotFound
	}
	return data, err
}
