package pgstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
	"github.com/vigil-rec/vigil/rec/verify"
)

// MaxAppend bounds the data of one Append: the longest line readers of
// recordings accept (tlog.MaxLine), so that any recording can be shipped.
const MaxAppend = tlog.MaxLine

// Append stores data, whole lines of host's recording file (its name on
// the host), at offset off, and returns how many bytes of the file are
// stored then: what the sender acknowledges, and where it goes on.
//
// Data is appended only where the stored bytes end; an Append at any other
// offset stores nothing and returns the stored length, so a sender that
// lost track (a crash, a restart, a resend of what was stored before its
// acknowledgement got lost) resumes there without duplicating anything.
// Empty data asks for the stored length.
//
// Every line must name host in its "host" field (ErrWrongHost otherwise;
// nothing is stored). Lines that do not decode are stored all the same:
// the recording is kept as the host wrote it, and the verifier reports it
// MODIFIED. The recording's metadata comes from its first message that
// decodes and its last; its state is rec/verify's for all its bytes so far,
// against host's trusted keys.
func (s *Store) Append(ctx context.Context, host, file string, off int64, data []byte) (int64, error) {
	return s.AppendFrom(ctx, Peer{Host: host}, file, off, data)
}

// Peer is the sender of an append: a host, and the key it authenticated
// with, if it did.
type Peer struct {
	Host string
	Key  ed25519.PublicKey // nil: not checked
}

// AppendFrom is Append of data sent by p: with its key, which must still
// be one of the host's (ErrKeyRevoked otherwise) when the append is stored.
// The collector need not look the key up at each request.
func (s *Store) AppendFrom(ctx context.Context, p Peer, file string, off int64, data []byte) (int64, error) {
	acked, err := s.appendRetry(ctx, p, file, off, data)
	if err != nil {
		return acked, fmt.Errorf("pgstore: append to %s of host %s at %d: %w", file, p.Host, off, err)
	}
	return acked, nil
}

// trustedIn tells whether ks holds p's key, or p has none.
func (p Peer) trustedIn(ks keys.Set) bool {
	return p.Key == nil || bytes.Equal(ks[keys.ID(p.Key)], p.Key)
}

func (s *Store) appendRetry(ctx context.Context, p Peer, file string, off int64, data []byte) (int64, error) {
	if err := checkName("file", file); err != nil {
		return 0, err
	}
	switch {
	case off < 0:
		return 0, errors.New("negative offset")
	case len(data) > MaxAppend:
		return 0, fmt.Errorf("%d bytes, more than %d at once", len(data), MaxAppend)
	case len(data) > 0 && data[len(data)-1] != '\n':
		return 0, ErrNotLines
	}
	sc, err := scanLines(data, p.Host)
	if err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		acked, err := s.append(ctx, p, file, off, data, sc)
		if err == nil || attempt == 3 {
			return acked, err
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			return acked, err
		}
		switch {
		case pgErr.Code == "23514" && (pgErr.TableName == "chunks" || pgErr.TableName == "texts"):
			// No partition for the row: dropped since this Store made it.
			s.forgetPartition(sc.month)
		case pgErr.Code == "40P01" || pgErr.Code == "40001":
			// Deadlock or serialization failure: the transaction may
			// simply be tried again.
		default:
			return acked, err
		}
	}
}

// scanned is what Append reads of its data before it takes any lock.
type scanned struct {
	lines int64
	// The first and last message that decode; nil when none does.
	first, last *message
	month       time.Time // the partition of a recording starting with the data
}

// message is what the metadata takes from one message.
type message struct {
	rec, user, term string
	time            time.Time // zero when the format has none
	pos, end        time.Duration
}

// start is when the recording started by m, zero when m does not say.
func (m *message) start() time.Time {
	if m.time.IsZero() {
		return time.Time{}
	}
	return m.time.Add(-m.pos)
}

// eachLine calls f with each line of data, with its '\n'.
func eachLine(data []byte, f func(line []byte) error) error {
	n := 0
	for line, err := range tlog.Lines(data, tlog.MaxLine) {
		n++
		if err == nil {
			err = f(line)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return nil
}

// scanLines reads data's lines before any lock is taken: each line that
// names a host must name the sender (read by tlog's head-only scan, which
// skips the payload: decoding every line here as well as in the
// transaction cost the collector a tenth of its time), and the first and
// last message that decode give the metadata.
func scanLines(data []byte, host string) (*scanned, error) {
	sc := &scanned{}
	var dec tlog.Decoder
	var h tlog.Head
	var m tlog.Message
	var named [][]byte // the lines naming the host: the only ones that may decode
	err := eachLine(data, func(line []byte) error {
		sc.lines++
		body := bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case dec.Scan(body, &h) != nil:
			return nil // not a message: the verifier reports it
		case h.Host == "" && dec.Decode(body, &m) == nil:
			// A message naming host "" (or none, which Decode refuses).
		case h.Host == "":
			return nil
		case h.Host == host:
			named = append(named, body)
			return nil
		}
		return fmt.Errorf("%w: %q, not the sender %q", ErrWrongHost, h.Host, host)
	})
	if err != nil {
		return nil, fmt.Errorf("data %w", err)
	}
	meta := func(body []byte) *message {
		if dec.Decode(body, &m) != nil {
			return nil
		}
		return &message{rec: m.Rec, user: m.User, term: m.Term, time: m.Time, pos: m.Pos, end: store.EndOf(&m)}
	}
	for i := 0; i < len(named) && sc.first == nil; i++ {
		sc.first = meta(named[i])
	}
	for i := len(named) - 1; i >= 0 && sc.last == nil; i-- {
		sc.last = meta(named[i])
	}
	var start time.Time
	if sc.first != nil {
		start = sc.first.start()
	}
	sc.month = partitionMonth(start, time.Now())
	return sc, nil
}

// recording is a recording's row as an append finds it, locked.
type recording struct {
	id    int64
	month time.Time
	bytes int64
}

// append is one attempt of Append: in one statement when this collector
// stored the recording's bytes so far (its verifier is cached), else in a
// transaction that locks the recording's row first. Under the fleet's
// load the round trips of the transaction (begin, the host, the lock, the
// writes, commit), each a wakeup of the collector and of PostgreSQL, cost
// more than the writes.
func (s *Store) append(ctx context.Context, p Peer, file string, off int64, data []byte, sc *scanned) (int64, error) {
	if v := s.verifier.takeFile(fileKey{p.Host, file}); v != nil {
		// The statement checks that v's keys are still the host's.
		if v.bytes != off || len(data) == 0 || !p.trustedIn(v.keys) {
			s.verifier.put(v) // for the transaction below
		} else if stored, err := s.write(ctx, s.pool, v, data, sc); err != nil || stored {
			return s.written(v, data, stored, err)
		}
		// Not stored: the bytes stored, the host's keys or the recording
		// changed under it, and v has read data. The transaction tells.
	}
	if off == 0 && len(data) > 0 {
		// Maybe a new recording: its partition must exist before the
		// transaction locks anything.
		if err := s.ensurePartition(ctx, sc.month); err != nil {
			return 0, err
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	h, err := hostForAppend(ctx, tx, p.Host)
	if err != nil {
		return 0, err
	}
	if h.revoked {
		return 0, ErrHostRevoked
	}
	if !p.trustedIn(h.keys) {
		return 0, fmt.Errorf("key %s: %w", keys.ID(p.Key), ErrKeyRevoked)
	}
	// The row's lock serializes appends to the recording, from every
	// collector, until the commit.
	r, err := lockRecording(ctx, tx, h.id, file)
	if errors.Is(err, pgx.ErrNoRows) {
		if off != 0 || len(data) == 0 {
			return 0, nil // nothing stored yet: the sender starts at 0
		}
		r, err = createRecording(ctx, tx, h.id, file, sc.month)
	}
	if err != nil {
		return 0, fmt.Errorf("recording: %w", err)
	}
	if off != r.bytes || len(data) == 0 {
		return r.bytes, nil
	}
	v, err := s.verifierFor(ctx, tx, r, h, fileKey{p.Host, file})
	if err != nil {
		return 0, err
	}
	stored, err := s.write(ctx, tx, v, data, sc)
	if err == nil && !stored {
		err = errors.New("the host was revoked or its keys changed during the append")
	}
	if err == nil {
		if err = tx.Commit(ctx); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	return s.written(v, data, err == nil, err)
}

// written ends an append of data through v, at v.bytes: stored, v is kept
// for the next one; not, it has read what the database has not.
func (s *Store) written(v *cachedVerifier, data []byte, stored bool, err error) (int64, error) {
	// The cache keeps the verifier, not this append's texts: 200
	// recordings' last texts held 200 MB.
	clear(v.texts)
	v.texts = v.texts[:0]
	if err != nil || !stored {
		return 0, err
	}
	v.bytes += int64(len(data))
	s.verifier.put(v)
	return v.bytes, nil
}

// write verifies data, the recording's bytes after the v.bytes v has
// read, and stores it with its texts and the recording's state, in one
// statement: unless the recording's stored bytes, its host's revocation or
// keys are no longer what v read, when it stores nothing and returns
// false.
func (s *Store) write(ctx context.Context, q querier, v *cachedVerifier, data []byte, sc *scanned) (bool, error) {
	v.texts = v.texts[:0]
	if err := eachLine(data, v.line); err != nil {
		return false, fmt.Errorf("verify: %w", err)
	}
	v.t.Flush()
	reports := v.v.Reports()
	report, err := reportJSON(reports)
	if err != nil {
		return false, err
	}
	worst := reports[0]
	for _, rp := range reports[1:] {
		if rp.State > worst.State {
			worst = rp
		}
	}
	detail := ""
	if worst.State != verify.OK {
		detail = cleanText(worst.Detail)
	}
	// The head fields are set once, from the first message that decodes;
	// the end ones from the last message so far.
	var rec, user, term *string
	var start, endTime *time.Time
	var duration *float64
	if first := sc.first; first != nil {
		rec, user, term = ptr(cleanText(first.rec)), ptr(cleanText(first.user)), ptr(cleanText(first.term))
		if t := first.start(); !t.IsZero() {
			start = &t
		}
	}
	if last := sc.last; last != nil {
		duration = ptr(tlog.Seconds(last.end))
		if !last.time.IsZero() {
			endTime = ptr(last.time.Add(last.end - last.pos))
		}
	}
	bodies, grams := textRows(v.texts)
	var n int
	err = q.QueryRow(ctx, `WITH host AS (
			SELECT FROM hosts WHERE id = $2 AND revoked_at IS NULL AND $3::text[] =
				array(SELECT key_id FROM host_keys WHERE host_id = $2 AND revoked_at IS NULL ORDER BY key_id COLLATE "C")
		), r AS (
			UPDATE recordings SET
				bytes = $4 + octet_length($5::bytea), lines = lines + $6, state = $7, detail = $8, last_hash = $9, report = $10,
				rec = CASE WHEN $11::boolean AND NOT described THEN $12 ELSE rec END,
				user_name = CASE WHEN $11 AND NOT described THEN $13 ELSE user_name END,
				term = CASE WHEN $11 AND NOT described THEN $14 ELSE term END,
				start_time = CASE WHEN $11 AND NOT described THEN $15 ELSE start_time END,
				described = described OR $11,
				end_time = coalesce($16, end_time), duration = coalesce($17, duration), updated_at = now(),
				texts_from = CASE WHEN $18 THEN greatest(texts_from, 1) ELSE texts_from END, several = several OR $19
			WHERE id = $1 AND host_id = $2 AND bytes = $4::bigint AND EXISTS (SELECT FROM host)
			RETURNING month
		), c AS (
			INSERT INTO chunks (recording_id, month, off, data) SELECT $1, month, $4, $5 FROM r
		), t AS (
			INSERT INTO texts_recent (recording_id, month, off, body, grams)
			SELECT $1, month, $4, body, grams FROM r, unnest($20::text[], $21::bytea[]) AS u(body, grams)
		)
		SELECT count(*) FROM r`,
		v.id, v.hostID, v.keys.IDs(), v.bytes, data, sc.lines, worst.State.String(), detail, worst.LastHash, report,
		sc.first != nil, rec, user, term, start, endTime, duration,
		// Texts it could not give: search it whatever its texts say.
		v.t.Incomplete(), v.t.Several(), bodies, grams).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store the data, texts and state: %w", err)
	}
	return n == 1, nil
}

func ptr[T any](v T) *T { return &v }

// maxTextsRow bounds the texts of one row: a recording's chunk of 64 MiB
// gives many rows, each cheap to index and to check.
const maxTextsRow = 1 << 20

// textRows cuts the texts of an append into the bodies of its rows of
// texts_recent, each with its grams (FoldTexts moves them to the index).
func textRows(texts []string) (bodies []string, grams [][]byte) {
	var sb strings.Builder
	flush := func() {
		if sb.Len() > 0 {
			body := cleanText(sb.String())
			bodies, grams = append(bodies, body), append(grams, textGrams(body))
			sb.Reset()
		}
	}
	for _, t := range texts {
		if sb.Len() > 0 && sb.Len()+len(t) > maxTextsRow {
			flush()
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(t)
	}
	flush()
	return bodies, grams
}

func lockRecording(ctx context.Context, tx pgx.Tx, hostID int64, file string) (*recording, error) {
	r := &recording{}
	err := tx.QueryRow(ctx, `SELECT id, month, bytes FROM recordings
		WHERE host_id = $1 AND file = $2 FOR UPDATE`, hostID, file).Scan(&r.id, &r.month, &r.bytes)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// createRecording inserts the row of a new recording, locked; when another
// collector inserted it first, that one's row, once it commits.
func createRecording(ctx context.Context, tx pgx.Tx, hostID int64, file string, month time.Time) (*recording, error) {
	r := &recording{month: month}
	err := tx.QueryRow(ctx, `INSERT INTO recordings (host_id, file, month) VALUES ($1, $2, $3)
		ON CONFLICT (host_id, file) DO NOTHING RETURNING id`, hostID, file, month).Scan(&r.id)
	if errors.Is(err, pgx.ErrNoRows) {
		return lockRecording(ctx, tx, hostID, file)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// verifierFor returns the verifier of r's stored bytes against h's keys:
// the cached one, caught up on what other collectors stored since, or one
// rebuilt from all of them (after a restart, or when the keys changed).
func (s *Store) verifierFor(ctx context.Context, tx pgx.Tx, r *recording, h *appendHost, at fileKey) (*cachedVerifier, error) {
	v := s.verifier.take(r.id)
	if v == nil || !slices.Equal(v.keys.IDs(), h.keys.IDs()) || v.bytes > r.bytes {
		v = newCachedVerifier(r.id, h.id, at, h.keys)
	}
	if v.bytes == r.bytes {
		return v, nil
	}
	// The texts of the stored bytes are stored: only the screen is
	// wanted of them.
	v.muted = true
	defer func() { v.muted = false }()
	err := readChunks(ctx, tx, r.id, r.month, v.bytes, r.bytes, func(data []byte) error {
		return eachLine(data, v.line)
	})
	if err != nil {
		return nil, fmt.Errorf("verify the stored bytes: %w", err)
	}
	v.t.Flush()
	v.bytes = r.bytes
	return v, nil
}

// readChunks calls f with the stored bytes of a recording from offset from
// to to, a chunk at a time; from must be where a chunk starts.
func readChunks(ctx context.Context, q querier, id int64, month time.Time, from, to int64, f func([]byte) error) error {
	rows, err := q.Query(ctx, `SELECT off, data FROM chunks
		WHERE recording_id = $1 AND month = $2 AND off >= $3 AND off < $4 ORDER BY off`, id, month, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	next := from
	for rows.Next() {
		var off int64
		var data []byte
		if err := rows.Scan(&off, &data); err != nil {
			return err
		}
		if off != next {
			return fmt.Errorf("stored chunks of recording %d: chunk at %d where %d was expected", id, off, next)
		}
		if err := f(data); err != nil {
			return err
		}
		next += int64(len(data))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if next != to {
		return fmt.Errorf("stored chunks of recording %d end at %d, not %d", id, next, to)
	}
	return nil
}

// storedReport is a verify.Report as stored: named states and fields.
type storedReport struct {
	Rec           string            `json:"rec"`
	State         string            `json:"state"`
	Line          int               `json:"line,omitempty"`
	ID            uint64            `json:"id,omitempty"`
	Seq           uint64            `json:"seq,omitempty"`
	Detail        string            `json:"detail,omitempty"`
	Messages      int               `json:"messages"`
	LastHash      string            `json:"last_hash,omitempty"`
	LastSignedSeq uint64            `json:"last_signed_seq"`
	KeyIDs        []string          `json:"key_ids"`
	Dropped       dropped           `json:"dropped"`
	Meta          []json.RawMessage `json:"meta,omitempty"`
}

// dropped is a msg.Drop as stored.
type dropped struct {
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
}

// reportJSON is the verifier's reports as stored in recordings.report.
func reportJSON(reports []verify.Report) ([]byte, error) {
	out := make([]storedReport, len(reports))
	for i, r := range reports {
		out[i] = storedReport{Rec: r.Rec, State: r.State.String(), Line: r.Line, ID: r.ID, Seq: r.Seq,
			Detail: r.Detail, Messages: r.Messages, LastHash: r.LastHash, LastSignedSeq: r.LastSignedSeq,
			KeyIDs: r.KeyIDs, Dropped: dropped(r.Dropped), Meta: r.Meta}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	// Meta is copied as the line had it; PostgreSQL refuses invalid UTF-8
	// even inside JSON strings, where it can only be.
	return bytes.ToValidUTF8(b, []byte("\uFFFD")), nil
}
