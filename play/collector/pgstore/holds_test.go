package pgstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

// A recording is held once at a time; a released hold stays listed, and
// the recording may be held again.
func TestHolds(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key := newKey(t)
	enroll(t, s, host, pubOf(key))
	path, data := writeFile(t, storetest.Spec{Rec: "r1", User: "alice", Host: host, Start: time.Now().Add(-time.Hour), Duration: time.Minute, Key: key})
	file := filepath.Base(path)
	appendAll(t, s, host, file, [][]byte{data})
	id := getRecording(t, s, host, file).ID

	if err := s.Hold(ctx, host, file, "case 4711", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Hold(ctx, host, file, "case 4712", "bob"); !errors.Is(err, ErrHeld) {
		t.Errorf("Hold of a held recording: %v, want ErrHeld", err)
	}
	if err := s.Hold(ctx, host, "nope.jsonl", "case 4711", "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Hold of no recording: %v, want ErrNotFound", err)
	}
	hs, err := s.Holds(ctx)
	if err != nil || len(hs) != 1 {
		t.Fatalf("Holds: %+v, %v; want one", hs, err)
	}
	if h := hs[0]; h.RecordingID != id || h.Host != host || h.File != file || h.Reason != "case 4711" || h.By != "alice" ||
		time.Since(h.Since) > time.Minute || h.ReleasedAt != nil || h.ReleasedBy != "" {
		t.Errorf("hold: %+v", h)
	}

	h, err := s.Release(ctx, host, file, "carol")
	if err != nil || h.Reason != "case 4711" || h.ReleasedBy != "carol" || h.ReleasedAt == nil {
		t.Fatalf("Release: %+v, %v", h, err)
	}
	if _, err := s.Release(ctx, host, file, "carol"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Release of a released hold: %v, want ErrNotHeld", err)
	}
	if err := s.Hold(ctx, host, file, "case 4712", "bob"); err != nil {
		t.Fatalf("Hold after the release: %v", err)
	}
	hs, err = s.Holds(ctx)
	if err != nil || len(hs) != 2 || hs[0].ReleasedBy != "carol" || hs[1].Reason != "case 4712" || hs[1].ReleasedAt != nil {
		t.Errorf("Holds, the released one kept: %+v, %v", hs, err)
	}
}
