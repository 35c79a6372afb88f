package ship

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/store"
)

// purgeRecord writes the host's next purge record, as its purge does, and
// returns its file name.
func (f *fixture) purgeRecord(day int) string {
	r := &store.PurgeRecord{Time: time.Date(2026, 6, day, 12, 0, 0, 0, time.UTC), Host: host, By: "root",
		Recordings: []store.PurgeEntry{{PurgedFile: store.PurgedFile{File: "/var/log/vigil/x.jsonl", Rec: "x", User: "alice", Host: host}}}}
	path, _, err := store.AppendPurgeRecord(store.PurgedDir(f.dir), r, f.key)
	if err != nil {
		f.t.Fatal(err)
	}
	return filepath.Base(path)
}

// collectorRetention is what the collector holds of the host's purge
// records (file=STATE) and its holds in force (rec:reason).
func (f *fixture) collectorRetention() (records, holds string) {
	f.t.Helper()
	_, st := f.c.store()
	reps, err := st.HostPurges(testCtx(f.t), host)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range reps {
		records += strings.TrimPrefix(r.File, host+"/purged/") + "=" + r.StateName + " "
	}
	hs, err := st.Holds(testCtx(f.t))
	if err != nil {
		f.t.Fatal(err)
	}
	for _, h := range hs {
		if h.ReleasedAt == nil && h.Origin == pgstore.OriginHost {
			holds += h.File + ":" + h.Reason + " "
		}
	}
	return records, holds
}

// The host's purge records reach the collector once each, its holds as
// they are placed and released; a record rewritten on the host after it
// was shipped is refused and the collector's copy stays; a hold file that
// cannot be read changes nothing at the collector.
func TestRetention(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	name, _ := f.recording("rec-1")
	r1 := f.purgeRecord(1)
	hold := store.Hold{Rec: "rec-1", File: filepath.Join(f.dir, name), Since: time.Now().UTC(), By: "root", Reason: "case 1"}
	if err := store.Place(f.dir, hold); err != nil {
		t.Fatal(err)
	}
	if err := f.shipper(srv.URL).Once(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	records, holds := f.collectorRetention()
	if records != r1+"=OK " || holds != name+":case 1 " {
		t.Fatalf("collector: records %q, holds %q", records, holds)
	}
	_, st := f.c.store()
	if r, err := st.Recording(testCtx(t), host, name); err != nil || r.Hold == nil || r.Hold.Reason != "case 1" {
		t.Errorf("the recording's hold at the collector: %+v, %v", r, err)
	}

	// Live: a new record and the hold's release arrive within seconds.
	s := f.shipper(srv.URL)
	stop := run(t, s)
	r2 := f.purgeRecord(2)
	if _, err := store.Release(f.dir, "rec-1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		records, holds = f.collectorRetention()
		if records == r1+"=OK "+r2+"=OK " && holds == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a new record and a release: records %q, holds %q", records, holds)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	// Root on the host rewrites the first record (re-signed, so it
	// verifies there) and deletes the second: the collector keeps both.
	p1 := filepath.Join(store.PurgedDir(f.dir), r1)
	data, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := store.ParsePurgeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	rec.By = "nobody"
	if err := os.Remove(p1); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(store.PurgedDir(f.dir), r2)); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p1, store.Sign(store.PurgeDomain, body, f.key), 0o640); err != nil {
		t.Fatal(err)
	}
	err = f.shipper(srv.URL).Once(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), r1) || !strings.Contains(err.Error(), "another purge record is stored under this name") {
		t.Errorf("Once with a rewritten record: %v", err)
	}
	if records, _ = f.collectorRetention(); records != r1+"=OK "+r2+"=OK " {
		t.Errorf("collector after the host's rewrite: %q", records)
	}

	// An unreadable hold: the collector's holds stay as they were.
	if err := os.Remove(p1); err != nil {
		t.Fatal(err)
	}
	if err := store.Place(f.dir, hold); err != nil {
		t.Fatal(err)
	}
	if err := f.shipper(srv.URL).Once(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(store.HoldsDir(f.dir), "rec-2.json")
	if err := os.WriteFile(bad, []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Release(f.dir, "rec-1"); err != nil {
		t.Fatal(err)
	}
	if err := f.shipper(srv.URL).Once(testCtx(t)); err == nil || !strings.Contains(err.Error(), "rec-2.json") {
		t.Errorf("Once with an unreadable hold: %v", err)
	}
	if _, holds = f.collectorRetention(); holds != name+":case 1 " {
		t.Errorf("holds at the collector after an unreadable hold: %q, want unchanged", holds)
	}
	if !bytes.Contains(f.stored(name), []byte(`"rec":"rec-1"`)) {
		t.Error("the recording is not at the collector")
	}
}
