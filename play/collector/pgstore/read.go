package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/rec/store"
)

// Read writes the stored bytes of host's recording file from byte from on
// to w, exactly as the host's file held them, and returns how many it
// wrote. What it writes is one consistent moment of the recording, ending
// at a line's end. from is at most the bytes stored: from equal to them
// writes nothing (a follower caught up).
func (s *Store) Read(ctx context.Context, host, file string, from int64, w io.Writer) (int64, error) {
	n, err := s.read(ctx, host, file, from, w)
	if err != nil {
		return n, fmt.Errorf("pgstore: read %s of host %s from %d: %w", file, host, from, err)
	}
	return n, nil
}

func (s *Store) read(ctx context.Context, host, file string, from int64, w io.Writer) (int64, error) {
	if from < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	// The stored length first: chunks below it never change, so they can
	// be read in short statements that hold no connection while a slow
	// reader takes its time (appends need the connections).
	var id, stored int64
	var month time.Time
	err := s.pool.QueryRow(ctx, `SELECT r.id, r.month, r.bytes FROM recordings r JOIN hosts h ON h.id = r.host_id
		WHERE h.name = $1 AND r.file = $2`, host, file).Scan(&id, &month, &stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, ErrNotFound
	case err != nil:
		return 0, err
	case from > stored:
		return 0, fmt.Errorf("%w: %d, beyond the %d bytes stored", ErrBadOffset, from, stored)
	}
	var n int64
	for at := from; at < stored; {
		type chunk struct {
			off  int64
			data []byte
		}
		rows, err := s.pool.Query(ctx, `SELECT off, data FROM chunks
			WHERE recording_id = $1 AND month = $2 AND off + length(data) > $3 AND off < $4
			ORDER BY off LIMIT $5`, id, month, at, stored, readBatch)
		if err != nil {
			return n, err
		}
		batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chunk, error) {
			var c chunk
			return c, row.Scan(&c.off, &c.data)
		})
		if err != nil {
			return n, err
		}
		if len(batch) == 0 {
			return n, fmt.Errorf("stored chunks end at %d, not %d", at, stored)
		}
		for _, c := range batch {
			if c.off > at || c.off+int64(len(c.data)) <= at {
				return n, fmt.Errorf("stored chunk at %d where %d was expected", c.off, at)
			}
			m, err := w.Write(c.data[at-c.off:])
			n += int64(m)
			at += int64(m)
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// readBatch is how many chunks a read takes per statement: up to 8 MiB
// (appends of 1 MiB) in memory at a time.
const readBatch = 8

// Recording is a stored recording: its Summary as rec/store would give of
// the host's file (File is the file's name on the host, Size the bytes
// stored), and what the collector knows besides.
type Recording struct {
	store.Summary
	ID        int64           `json:"id"`
	Lines     int64           `json:"lines"`          // lines stored
	Month     time.Time       `json:"month"`          // of the partition holding its bytes
	Report    json.RawMessage `json:"report"`         // rec/verify's reports of the bytes stored
	UpdatedAt time.Time       `json:"updated_at"`     // of the last append
	Hold      *store.Hold     `json:"hold,omitempty"` // the legal hold in force (holds.go), if any
	Several   bool            `json:"several"`        // the file holds more than one recording
}

// Filter selects recordings; its zero value selects all.
type Filter struct {
	Host, User, Rec string    // "": any
	Since, Until    time.Time // start in [Since, Until); zero: unbounded
	Limit           int       // at most this many; 0: no limit
}

// conds is the WHERE clause of a query being built, and its arguments.
type conds struct {
	where []string
	args  []any
}

// add adds a condition, sql with "?" for arg.
func (c *conds) add(sql string, arg any) {
	c.where = append(c.where, strings.ReplaceAll(sql, "?", c.arg(arg)))
}

// arg adds an argument and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// Recordings lists the recordings that f selects, by start time (unknown
// first), then in the order they were first stored.
func (s *Store) Recordings(ctx context.Context, f Filter) ([]Recording, error) {
	recs, err := listRecordings(ctx, s.pool, f.conds(), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list recordings: %w", err)
	}
	return recs, nil
}

// conds is the WHERE clause selecting f's recordings.
func (f Filter) conds() *conds {
	var c conds
	if f.Host != "" {
		c.add("h.name = ?", f.Host)
	}
	if f.User != "" {
		c.add("r.user_name = ?", f.User)
	}
	if f.Rec != "" {
		c.add("r.rec = ?", f.Rec)
	}
	if !f.Since.IsZero() {
		c.add("r.start_time >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		c.add("r.start_time < ?", f.Until)
	}
	return &c
}

// Candidates lists the recordings that f selects in which a search may
// find lines containing text: those whose texts (play/search.Texts, stored
// as they arrive, indexed or recent) contain it, and those stored before
// their texts were kept. text "" selects them all.
func (s *Store) Candidates(ctx context.Context, f Filter, text string) ([]Recording, error) {
	c := f.conds()
	if text == "" {
		return s.Recordings(ctx, f)
	}
	// LIKE's own characters are taken literally.
	text = cleanText(text)
	like := c.arg("%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(text) + "%")
	// The index finds the rows that have the text's grams; their filter
	// of case-sensitive grams (if any), then their bodies are checked.
	// In that order: PostgreSQL orders the conditions of a WHERE by cost,
	// and put LIKE first (one operator against two); a CASE is evaluated
	// as written.
	indexed, check := "", "body LIKE "+like
	if index, cased := searchGrams(text); len(index) > 0 {
		indexed = "grams @> " + c.arg(index) + "::int4[] AND "
		if cased != nil {
			mask := c.arg(caseBloom(cased))
			check = "CASE WHEN case_bloom & " + mask + " <> " + mask + " THEN false ELSE " + check + " END"
		}
	}
	c.where = append(c.where, `(r.texts_from > 0 OR r.id IN (SELECT recording_id FROM texts WHERE `+indexed+check+`)
		OR r.id IN (SELECT recording_id FROM texts_recent WHERE body LIKE `+like+`))`)
	var recs []Recording
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The grams' index, never a scan of every text: the planner
		// misjudges texts of common words (a scan of 10 GB of texts took
		// 10 s where the index takes milliseconds). The cost that
		// forbids the scan would make the query worth compiling: JIT
		// took 0.3 s of a lookup of 1 ms.
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL jit = off"); err != nil {
			return err
		}
		var err error
		recs, err = listRecordings(ctx, tx, c, f.Limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: search candidates: %w", err)
	}
	return recs, nil
}

// Recording returns the recording of host's file.
func (s *Store) Recording(ctx context.Context, host, file string) (*Recording, error) {
	var c conds
	c.add("h.name = ?", host)
	c.add("r.file = ?", file)
	recs, err := listRecordings(ctx, s.pool, &c, 0)
	switch {
	case err != nil:
		return nil, fmt.Errorf("pgstore: recording %s of host %s: %w", file, host, err)
	case len(recs) == 0:
		return nil, fmt.Errorf("pgstore: recording %s of host %s: %w", file, host, ErrNotFound)
	}
	return &recs[0], nil
}

func listRecordings(ctx context.Context, q querier, c *conds, limit int) ([]Recording, error) {
	sql := `SELECT r.id, h.name, r.file, r.month, r.rec, r.user_name, r.term, r.start_time, r.end_time,
		r.duration, r.state, r.detail, r.last_hash, r.report, r.bytes, r.lines, r.updated_at,
		coalesce(k.held_at, hh.held_at), coalesce(k.held_by, hh.held_by || '` + onHost + `'), coalesce(k.reason, hh.reason), r.several
		FROM recordings r JOIN hosts h ON h.id = r.host_id` + joinHolds
	if len(c.where) > 0 {
		sql += " WHERE " + strings.Join(c.where, " AND ")
	}
	sql += " ORDER BY r.start_time NULLS FIRST, r.id"
	if limit > 0 {
		sql += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := q.Query(ctx, sql, c.args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Recording, error) {
		var r Recording
		var start, end, heldAt *time.Time
		var heldBy, reason *string
		err := row.Scan(&r.ID, &r.Host, &r.File, &r.Month, &r.Rec, &r.User, &r.Term, &start, &end,
			&r.Duration, &r.State, &r.Detail, &r.LastHash, &r.Report, &r.Size, &r.Lines, &r.UpdatedAt,
			&heldAt, &heldBy, &reason, &r.Several)
		if heldAt != nil {
			r.Hold = &store.Hold{Rec: r.Rec, File: r.File, Since: heldAt.UTC(), By: *heldBy, Reason: *reason}
		}
		if start != nil {
			r.Start = start.UTC()
		}
		if end != nil {
			r.End = end.UTC()
		}
		r.Month = r.Month.UTC()
		return r, err
	})
}
