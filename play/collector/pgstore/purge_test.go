package pgstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store/storetest"
	"github.com/vigil-rec/vigil/rec/verify"
)

// stored is a recording a test stored.
type stored struct {
	rec, file string
	data      []byte
}

// put stores a signed recording of host started at start.
func put(t *testing.T, s *Store, key ed25519.PrivateKey, rec string, start time.Time) stored {
	t.Helper()
	path, data := writeFile(t, storetest.Spec{Rec: rec, User: "alice", Host: host, Start: start, Duration: time.Minute, Key: key})
	r := stored{rec: rec, file: filepath.Base(path), data: data}
	appendAll(t, s, host, r.file, [][]byte{data})
	return r
}

// backdate makes every recording stored so far look shipped a day into its
// month, long before any cutoff of the tests.
func backdate(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.pool.Exec(testCtx(t), "UPDATE recordings SET updated_at = month + interval '1 day'"); err != nil {
		t.Fatal(err)
	}
}

// rows counts the rows of recording id in table (chunks, texts).
func rows(t *testing.T, s *Store, table string, id int64) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(testCtx(t), "SELECT count(*) FROM "+table+" WHERE recording_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// gone fails unless r is no longer stored.
func gone(t *testing.T, s *Store, r stored) {
	t.Helper()
	if _, err := s.Read(testCtx(t), host, r.file, 0, &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("read of purged %s: %v, want ErrNotFound", r.rec, err)
	}
}

// intact fails unless r is stored as it was.
func intact(t *testing.T, s *Store, r stored) {
	t.Helper()
	if got := read(t, s, host, r.file); !bytes.Equal(got, r.data) {
		t.Errorf("%s changed", r.rec)
	}
}

// recs lists the recs of rs, sorted.
func recs[T any](rs []T, rec func(*T) string) string {
	var out []string
	for i := range rs {
		out = append(out, rec(&rs[i]))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func purgedRecs(rs []PurgedRecording) string {
	return recs(rs, func(r *PurgedRecording) string { return r.Rec })
}
func keptRecs(rs []KeptRecording) string {
	return recs(rs, func(r *KeptRecording) string { return r.Rec })
}

func months(t *testing.T, s *Store) []time.Time {
	t.Helper()
	ms, err := s.Partitions(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// Purge drops a month whose recordings all go, deletes the others of a
// month that keeps a held or recently appended recording, never touches
// the current month, and records exactly what it deleted, signed; once
// released, a held recording goes at the next purge.
func TestPurge(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key := newKey(t)
	enroll(t, s, host, pubOf(key))
	now := time.Now().UTC()
	month := func(back int) time.Time { return monthOf(now).AddDate(0, -back, 0) }
	at := func(back int) time.Time { return month(back).Add(36 * time.Hour) }
	old1 := put(t, s, key, "old1", at(3))
	held, other := put(t, s, key, "held", at(2)), put(t, s, key, "other", at(2))
	// The texts of those so far go to the search index; old2's and
	// other2's stay recent.
	if _, err := s.FoldTexts(ctx); err != nil {
		t.Fatal(err)
	}
	old2, other2 := put(t, s, key, "old2", at(3)), put(t, s, key, "other2", at(2))
	cur := put(t, s, key, "cur", now.Add(-time.Minute))
	backdate(t, s)
	late := put(t, s, key, "late", at(4)) // shipped just now
	if err := s.Hold(ctx, host, held.file, "case 4711", "alice"); err != nil {
		t.Fatal(err)
	}
	otherID, other2ID := getRecording(t, s, host, other.file).ID, getRecording(t, s, host, other2.file).ID
	old2ID := getRecording(t, s, host, old2.file).ID
	if rows(t, s, "chunks", otherID) == 0 || rows(t, s, "texts", otherID) == 0 || rows(t, s, "texts_recent", other2ID) == 0 ||
		rows(t, s, "texts_recent", old2ID) == 0 {
		t.Fatal("no chunks, texts or recent texts of a recording to purge: the test would not see them go")
	}
	want := map[string]*Recording{}
	for _, r := range []stored{old1, old2, other, other2} {
		want[r.rec] = getRecording(t, s, host, r.file)
	}
	allMonths := []time.Time{month(4), month(3), month(2), month(0)}
	if ms := months(t, s); !slices.EqualFunc(ms, allMonths, time.Time.Equal) {
		t.Fatalf("partitions %v, want %v", ms, allMonths)
	}

	if _, err := s.Purge(ctx, PurgeOptions{Cutoff: now.Add(time.Hour), Key: key}); err == nil {
		t.Error("Purge up to a future cutoff: no error")
	}
	if _, err := s.Purge(ctx, PurgeOptions{Cutoff: now}); err == nil {
		t.Error("Purge without a key: no error")
	}

	// A dry run finds what a purge does, and changes nothing.
	dry, err := s.Purge(ctx, PurgeOptions{Cutoff: now, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := purgedRecs(dry.Purged); got != "old1 old2 other other2" {
		t.Errorf("dry run would purge %s", got)
	}
	if got := keptRecs(dry.Kept); got != "held late" {
		t.Errorf("dry run would keep %s", got)
	}
	if !slices.EqualFunc(dry.Dropped, []time.Time{month(3)}, time.Time.Equal) || dry.Seq != 0 {
		t.Errorf("dry run would drop %v, record %d", dry.Dropped, dry.Seq)
	}
	for _, r := range []stored{old1, old2, held, other, other2, cur, late} {
		intact(t, s, r)
	}
	if ms := months(t, s); !slices.EqualFunc(ms, allMonths, time.Time.Equal) {
		t.Errorf("partitions after a dry run: %v", ms)
	}
	if reps, err := s.Purges(ctx, keys.Set{}); err != nil || len(reps) != 0 {
		t.Errorf("purge records after a dry run: %+v, %v", reps, err)
	}

	res, err := s.Purge(ctx, PurgeOptions{Cutoff: now, Key: key, Collector: "collector.example.com", By: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if purgedRecs(res.Purged) != "old1 old2 other other2" || keptRecs(res.Kept) != "held late" ||
		!slices.EqualFunc(res.Dropped, []time.Time{month(3)}, time.Time.Equal) || res.Seq != 1 {
		t.Errorf("purge: %+v", res)
	}
	for _, k := range res.Kept {
		if (k.Rec == "held") != (k.Hold != nil) || k.Hold != nil && k.Hold.Reason != "case 4711" {
			t.Errorf("kept %s, hold %+v", k.Rec, k.Hold)
		}
	}
	for _, r := range []stored{old1, old2, other, other2} {
		gone(t, s, r)
	}
	for _, r := range []stored{held, cur, late} {
		intact(t, s, r)
	}
	for _, id := range []int64{otherID, other2ID, old2ID} {
		if n, m, r := rows(t, s, "chunks", id), rows(t, s, "texts", id), rows(t, s, "texts_recent", id); n+m+r != 0 {
			t.Errorf("%d chunks, %d texts and %d recent texts of a purged recording left", n, m, r)
		}
	}
	if ms := months(t, s); !slices.EqualFunc(ms, []time.Time{month(4), month(2), month(0)}, time.Time.Equal) {
		t.Errorf("partitions after the purge: %v", ms)
	}
	// No text of a purged recording is left to fold.
	if _, err := s.FoldTexts(ctx); err != nil {
		t.Errorf("fold after the purge: %v", err)
	}

	// The record lists exactly what was deleted, and it verifies.
	reps, err := s.Purges(ctx, keys.Set{keys.ID(pubOf(key)): pubOf(key)})
	if err != nil || len(reps) != 1 {
		t.Fatalf("purge records: %+v, %v", reps, err)
	}
	rep := reps[0]
	if rep.State != verify.OK || rep.StateName != "OK" || rep.Seq != 1 || rep.SHA256 != res.SHA256 || rep.By != "root" || rep.Key != keys.ID(pubOf(key)) {
		t.Fatalf("record: %+v", rep)
	}
	r := rep.Record
	if r.Collector != "collector.example.com" || r.Prev != nil || !r.Cutoff.Equal(now.Truncate(time.Second)) || len(r.Recordings) != 4 {
		t.Fatalf("record: %+v", r)
	}
	for _, p := range r.Recordings {
		w := want[p.Rec]
		if w == nil || p.Host != host || p.File != w.File || p.Bytes != w.Size || p.User != "alice" ||
			p.LastHash != w.LastHash || len(p.LastHash) != 64 || p.State != "OK" || !p.Month.Equal(w.Month) || !p.Start.Equal(w.Start) {
			t.Errorf("record lists %+v, want %+v", p, w)
		}
		delete(want, p.Rec)
	}
	if len(want) != 0 {
		t.Errorf("record misses %v", want)
	}

	// One byte changed in the stored record, and it no longer verifies; a
	// key not trusted does not vouch for it.
	trusted := keys.Set{keys.ID(pubOf(key)): pubOf(key)}
	var record []byte
	if err := s.pool.QueryRow(ctx, "SELECT record FROM purges WHERE seq = 1").Scan(&record); err != nil {
		t.Fatal(err)
	}
	setRecord := func(b []byte) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, "UPDATE purges SET record = $1 WHERE seq = 1", b); err != nil {
			t.Fatal(err)
		}
	}
	i := bytes.Index(record, []byte(`"bytes":`)) + len(`"bytes":`)
	edited := bytes.Clone(record)
	edited[i]++
	setRecord(edited)
	if reps, err := s.Purges(ctx, trusted); err != nil || reps[0].State != verify.Modified {
		t.Errorf("record with one byte changed: %+v, %v", reps, err)
	}
	setRecord(record)
	stranger := newKey(t)
	if reps, err := s.Purges(ctx, keys.Set{keys.ID(pubOf(stranger)): pubOf(stranger)}); err != nil || reps[0].State != verify.UnknownKey {
		t.Errorf("record against another key: %+v, %v", reps, err)
	}
	if _, err := s.pool.Exec(ctx, "UPDATE purges SET purged_by = 'eve' WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	if reps, err := s.Purges(ctx, trusted); err != nil || reps[0].State != verify.Modified || !strings.Contains(reps[0].Detail, "eve") {
		t.Errorf("record whose row was changed: %+v, %v", reps, err)
	}
	if _, err := s.pool.Exec(ctx, "UPDATE purges SET purged_by = 'root' WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}

	// Released, the held recording goes at the next purge, and its month
	// with it; the recently appended one stays.
	if _, err := s.Release(ctx, host, held.file, "alice"); err != nil {
		t.Fatal(err)
	}
	res, err = s.Purge(ctx, PurgeOptions{Cutoff: now, Key: key})
	if err != nil || purgedRecs(res.Purged) != "held" || keptRecs(res.Kept) != "late" || res.Seq != 2 ||
		!slices.EqualFunc(res.Dropped, []time.Time{month(2)}, time.Time.Equal) {
		t.Fatalf("purge after the release: %+v, %v", res, err)
	}
	gone(t, s, held)
	intact(t, s, cur)
	intact(t, s, late)
	reps, err = s.Purges(ctx, trusted)
	if err != nil || len(reps) != 2 || reps[0].State != verify.OK || reps[1].State != verify.OK ||
		reps[1].Record.Prev == nil || reps[1].Record.Prev.SHA256 != reps[0].SHA256 {
		t.Fatalf("purge records: %+v, %v", reps, err)
	}
	// Nothing more is due: no record.
	if res, err := s.Purge(ctx, PurgeOptions{Cutoff: now, Key: key}); err != nil || len(res.Purged) != 0 || res.Seq != 0 {
		t.Errorf("purge of nothing: %+v, %v", res, err)
	}

	// A record deleted is missed by the next one.
	if _, err := s.pool.Exec(ctx, "DELETE FROM purges WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	if reps, err := s.Purges(ctx, trusted); err != nil || len(reps) != 1 || reps[0].State != verify.Missing {
		t.Errorf("records after seq 1 was deleted: %+v, %v", reps, err)
	}
}

// A purge waits for the recordings it deletes, never for others: appends
// to recordings of other months go on, and all they append is kept.
func TestPurgeConcurrentAppends(t *testing.T) {
	connString := pgtest.DB(t)
	a, b := open(t, connString), open(t, connString) // purging, and receiving
	ctx := testCtx(t)
	key := newKey(t)
	enroll(t, b, host, pubOf(key))
	now := time.Now().UTC()
	old := put(t, b, key, "old", monthOf(now).AddDate(0, -2, 0).Add(36*time.Hour))
	backdate(t, b)
	// This month's partition is known to the receiving collector, as it is
	// once the month's first recording came: a partition to make would
	// wait for the purge.
	file, data := bigRecording(t, host, "cur", key, 64<<10)
	ls := lines(data)
	half := bytes.Join(ls[:len(ls)/2], nil)
	appendAll(t, b, host, file, [][]byte{half})

	// An append to the old recording under way: its row locked.
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM recordings WHERE file = $1 FOR UPDATE", old.file); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res *PurgeResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := a.Purge(ctx, PurgeOptions{Cutoff: now, Key: key})
		done <- result{res, err}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		err := b.pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge does not wait for the old recording's row")
		}
	}
	// Meanwhile the current month's recordings grow, and new ones come.
	quick, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if acked, err := b.Append(quick, host, file, int64(len(half)), data[len(half):]); err != nil || acked != int64(len(data)) {
		t.Fatalf("append during the purge: %d, %v", acked, err)
	}
	fresh := put(t, b, key, "fresh", now.Add(-time.Hour))
	select {
	case r := <-done:
		t.Fatalf("the purge did not wait for the old recording: %+v, %v", r.res, r.err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || purgedRecs(r.res.Purged) != "old" {
		t.Fatalf("purge: %+v, %v", r.res, r.err)
	}
	gone(t, b, old)
	intact(t, b, stored{rec: "cur", file: file, data: data})
	intact(t, b, fresh)
	if rec := getRecording(t, b, host, file); rec.State != "OK" {
		t.Errorf("the recording appended to during the purge: %s (%s)", rec.State, rec.Detail)
	}
}

// A recording whose partition is gone still goes, and is recorded.
func TestPurgeWithoutPartition(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key := newKey(t)
	enroll(t, s, host, pubOf(key))
	month := monthOf(time.Now()).AddDate(0, -2, 0)
	old := put(t, s, key, "old", month.Add(36*time.Hour))
	backdate(t, s)
	if _, err := s.pool.Exec(ctx, "DROP TABLE "+partitionName(month)+", "+textsPartitionName(month)); err != nil {
		t.Fatal(err)
	}
	res, err := s.Purge(ctx, PurgeOptions{Cutoff: time.Now(), Key: key})
	if err != nil || purgedRecs(res.Purged) != "old" || res.Seq != 1 || !slices.EqualFunc(res.Dropped, []time.Time{month}, time.Time.Equal) {
		t.Fatalf("purge: %+v, %v", res, err)
	}
	if _, err := s.Recording(ctx, host, old.file); !errors.Is(err, ErrNotFound) {
		t.Errorf("the recording after the purge: %v", err)
	}
}
