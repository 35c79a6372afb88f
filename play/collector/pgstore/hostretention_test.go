package pgstore

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// purgeRecords writes n chained purge records of host signed with key, as
// the host's purge does, and returns them in order.
func purgeRecords(t *testing.T, host string, key ed25519.PrivateKey, n int) []store.PurgeRecordFile {
	t.Helper()
	dir := t.TempDir()
	var out []store.PurgeRecordFile
	for i := range n {
		r := &store.PurgeRecord{Time: time.Date(2026, 6, 1+i, 12, 0, 0, 0, time.UTC), Host: host, By: "root",
			Recordings: []store.PurgeEntry{{PurgedFile: store.PurgedFile{File: "/var/log/vigil/x.jsonl", Rec: "x", User: "alice", Host: host}}}}
		path, _, err := store.AppendPurgeRecord(dir, r, key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, store.PurgeRecordFile{Name: filepath.Base(path), Data: data})
	}
	return out
}

// A host's purge records are stored once, byte for byte, when they verify
// against its keys and name it; the chain of what was shipped is checked
// as on the host, so a record the host never shipped shows.
func TestHostPurgeRecords(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key, other := newKey(t), newKey(t)
	enroll(t, s, host, pubOf(key))
	enroll(t, s, "h2.example.com", pubOf(other))
	recs := purgeRecords(t, host, key, 3)

	for _, r := range []store.PurgeRecordFile{recs[0], recs[2]} {
		if isNew, err := s.AddHostPurgeRecord(ctx, host, r.Name, r.Data); err != nil || !isNew {
			t.Fatalf("AddHostPurgeRecord %s: %v, %v", r.Name, isNew, err)
		}
	}
	if isNew, err := s.AddHostPurgeRecord(ctx, host, recs[0].Name, recs[0].Data); err != nil || isNew {
		t.Errorf("the same record again: new %v, %v; want stored before", isNew, err)
	}
	edited := bytes.Replace(recs[1].Data, []byte(`"alice"`), []byte(`"alicf"`), 1)
	for _, c := range []struct {
		name, host, file string
		data             []byte
		want             error
	}{
		{"rewritten", host, recs[0].Name, recs[1].Data, ErrRecordRewritten},
		{"edited", host, recs[1].Name, edited, ErrRecordForged},
		{"another host's", "h2.example.com", recs[1].Name, recs[1].Data, ErrWrongHost},
		{"signed by another key", host, recs[1].Name, purgeRecords(t, host, other, 1)[0].Data, ErrRecordForged},
		{"not a record", host, recs[1].Name, []byte("{}\n"), ErrBadRecord},
		{"badly named", host, "../x.json", recs[1].Data, ErrBadRecord},
		{"of an unknown host", "h9.example.com", recs[1].Name, purgeRecords(t, "h9.example.com", key, 1)[0].Data, ErrUnknownHost},
	} {
		if _, err := s.AddHostPurgeRecord(ctx, c.host, c.file, c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	states := func() string {
		t.Helper()
		reps, err := s.HostPurges(ctx, host)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		for _, r := range reps {
			out += r.File + "=" + r.StateName + " "
		}
		return out
	}
	want := host + "/purged/" + recs[0].Name + "=OK " + host + "/purged/" + recs[2].Name + "=MISSING "
	if got := states(); got != want {
		t.Errorf("with seq 2 never shipped: %s, want %s", got, want)
	}
	if _, err := s.AddHostPurgeRecord(ctx, host, recs[1].Name, recs[1].Data); err != nil {
		t.Fatal(err)
	}
	// The host rotates its key, revoking the old one: its old records
	// still verify.
	if err := s.RevokeHostKey(ctx, host, keys.ID(pubOf(key))); err != nil {
		t.Fatal(err)
	}
	reps, err := s.HostPurges(ctx, host)
	if err != nil || len(reps) != 3 {
		t.Fatalf("HostPurges: %+v, %v", reps, err)
	}
	for _, r := range reps {
		if r.State != verify.OK {
			t.Errorf("%s: %s %s", r.File, r.StateName, r.Detail)
		}
	}
	// A revoked key signs nothing new.
	if _, err := s.AddHostPurgeRecord(ctx, host, "20270101T000000Z-000004.json", purgeRecords(t, host, key, 4)[3].Data); !errors.Is(err, ErrRecordForged) {
		t.Errorf("record signed by a revoked key: %v, want ErrRecordForged", err)
	}
}

// The holds a host has in force hold its recordings at the collector too,
// are listed with the collector's, and go when the host releases them;
// the collector's own holds are not the host's to release.
func TestHostHolds(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key := newKey(t)
	enroll(t, s, host, pubOf(key))
	start := monthOf(time.Now()).AddDate(0, -3, 0).Add(36 * time.Hour)
	a, b, c := put(t, s, key, "a", start), put(t, s, key, "b", start), put(t, s, key, "c", start)
	backdate(t, s)
	since := time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.UTC)
	hold := func(rec, reason string) store.Hold {
		return store.Hold{Rec: rec, File: "/var/log/vigil/" + rec + ".jsonl", Since: since, By: "root (login alice)", Reason: reason}
	}
	set := func(want [2]int, hs ...store.Hold) {
		t.Helper()
		placed, released, err := s.SetHostHolds(ctx, host, hs)
		if err != nil || placed != want[0] || released != want[1] {
			t.Fatalf("SetHostHolds: placed %d, released %d, %v; want %v", placed, released, err, want)
		}
	}
	set([2]int{2, 0}, hold("a", "case 1"), hold("later", "case 2")) // "later" is not shipped yet
	set([2]int{0, 0}, hold("a", "case 1"), hold("later", "case 2"))
	if err := s.Hold(ctx, host, c.file, "case 3", "carol"); err != nil {
		t.Fatal(err)
	}
	if r := getRecording(t, s, host, a.file); r.Hold == nil || r.Hold.Reason != "case 1" || r.Hold.By != "root (login alice) (on the host)" {
		t.Errorf("recording a's hold: %+v", r.Hold)
	}
	if _, _, err := s.SetHostHolds(ctx, host, []store.Hold{hold("../x", "")}); err == nil {
		t.Error("a hold with a bad rec id: no error")
	}
	if _, _, err := s.SetHostHolds(ctx, "h9.example.com", nil); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("holds of an unknown host: %v", err)
	}

	res, err := s.Purge(ctx, PurgeOptions{Cutoff: time.Now().Add(-time.Hour), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if got := purgedRecs(res.Purged) + " / " + keptRecs(res.Kept); got != "b / a c" {
		t.Errorf("purge with a host's hold: %s, want b / a c", got)
	}
	for _, k := range res.Kept {
		if k.Rec == "a" && (k.Hold == nil || k.Hold.Origin != OriginHost || k.Hold.Reason != "case 1") {
			t.Errorf("a kept by %+v", k.Hold)
		}
	}
	gone(t, s, b)

	// The host releases a and changes the other; nothing releases c.
	set([2]int{1, 2}, hold("later", "case 2b"))
	hs, err := s.Holds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, h := range hs {
		state := "held"
		if h.ReleasedAt != nil {
			state = "released by " + h.ReleasedBy
		}
		got += h.Origin + ":" + h.File + ":" + h.Reason + ":" + state + " "
	}
	want := "host:a.jsonl:case 1:released by the host host:later.jsonl:case 2:released by the host " +
		"host:later.jsonl:case 2b:held collector:" + c.file + ":case 3:held "
	if got != want {
		t.Errorf("Holds:\n%s\nwant\n%s", got, want)
	}
	if _, err := s.Purge(ctx, PurgeOptions{Cutoff: time.Now().Add(-time.Hour), Key: key}); err != nil {
		t.Fatal(err)
	}
	gone(t, s, a)
	intact(t, s, c)
}
