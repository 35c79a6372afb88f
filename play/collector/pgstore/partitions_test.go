package pgstore

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

func TestPartitionMonth(t *testing.T) {
	now := time.Date(2026, 5, 17, 12, 0, 0, 0, time.UTC)
	month := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		start time.Time
		want  time.Time
	}{
		{now.Add(-time.Hour), month(2026, 5)},
		{time.Date(2026, 3, 31, 23, 30, 0, 0, time.FixedZone("", -2*3600)), month(2026, 4)}, // UTC decides
		{time.Time{}, month(2026, 5)},                                                       // unknown: received now
		{now.AddDate(3, 0, 0), month(2026, 5)},                                              // from the future
		{now.AddDate(-30, 0, 0), monthOf(now.Add(-maxBacklog))},                             // far back
		{now.Add(-maxBacklog + time.Hour), month(2025, 5)},                                  // within the backlog
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), month(2025, 5)},                       // epoch: a clock unset
	} {
		if got := partitionMonth(c.start, now); !got.Equal(c.want) {
			t.Errorf("partitionMonth(%v) = %v, want %v", c.start, got, c.want)
		}
	}
	if name := partitionName(month(2026, 5)); name != "chunks_2026_05" {
		t.Errorf("partition name %s", name)
	}
}

// Dropping a month's partition deletes that month's recordings, bytes and
// metadata, and nothing else; a collector that knew the partition makes it
// again when a recording of that month comes anew.
func TestDropPartition(t *testing.T) {
	connString := pgtest.DB(t)
	a, b := open(t, connString), open(t, connString)
	ctx := testCtx(t)
	key := newKey(t)
	enroll(t, a, host, pubOf(key))
	now := time.Now().UTC()
	old := monthOf(now).AddDate(0, -2, 0).Add(36 * time.Hour) // two months back
	oldPath, oldData := writeFile(t, storetest.Spec{Rec: "rec-old", User: "alice", Host: host, Start: old, Duration: time.Minute, Key: key})
	newPath, newData := writeFile(t, storetest.Spec{Rec: "rec-new", User: "alice", Host: host, Start: now.Add(-time.Minute), Duration: time.Second, Key: key})
	oldFile, newFile := filepath.Base(oldPath), filepath.Base(newPath)
	appendAll(t, b, host, oldFile, [][]byte{oldData})
	appendAll(t, a, host, newFile, [][]byte{newData})

	months, err := a.Partitions(ctx)
	if want := []time.Time{monthOf(old), monthOf(now)}; err != nil || !slices.EqualFunc(months, want, time.Time.Equal) {
		t.Fatalf("partitions %v, %v; want %v", months, err, want)
	}
	if r := getRecording(t, a, host, oldFile); !r.Month.Equal(monthOf(old)) {
		t.Errorf("old recording in month %v, want %v", r.Month, monthOf(old))
	}
	n, err := a.DropPartition(ctx, old)
	if err != nil || n != 1 {
		t.Fatalf("DropPartition: %d, %v; want 1 recording", n, err)
	}
	if _, err := a.Read(ctx, host, oldFile, 0, &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("read of a dropped recording: %v, want ErrNotFound", err)
	}
	recs, err := a.Recordings(ctx, Filter{})
	if err != nil || len(recs) != 1 || recs[0].File != newFile {
		t.Errorf("recordings after the drop: %+v, %v; want %s alone", recs, err, newFile)
	}
	if got := read(t, a, host, newFile); !bytes.Equal(got, newData) {
		t.Error("the current month's recording changed")
	}
	if months, err := a.Partitions(ctx); err != nil || len(months) != 1 || !months[0].Equal(monthOf(now)) {
		t.Errorf("partitions after the drop: %v, %v", months, err)
	}
	var tables int
	if err := a.pool.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1", partitionName(monthOf(old))).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("table %s after the drop: %d, %v", partitionName(monthOf(old)), tables, err)
	}

	// b made the old partition and believes it is there.
	if !b.parts[monthOf(old)] {
		t.Fatal("collector b did not note the partition it made")
	}
	appendAll(t, b, host, oldFile, [][]byte{oldData})
	if got := read(t, a, host, oldFile); !bytes.Equal(got, oldData) {
		t.Error("recording stored anew after the drop differs")
	}
	if r := getRecording(t, a, host, oldFile); r.State != "OK" {
		t.Errorf("recording stored anew: %s (%s)", r.State, r.Detail)
	}
}
