package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/store"
)

// What the shipper sends of the host's retention (rec/spec/purge.md §8):
// each purge record once, and the holds in force whenever they change, so
// that the collector keeps a copy of the records off the host and keeps
// held recordings from its own purge.

// retention is what the shipper knows of the host's purge records and
// holds at the collector.
type retention struct {
	records map[string]time.Time // shipped (zero) or refused until then
	holds   []byte               // the HostHolds body the collector took; nil: unknown
	// The directories' modification times when last read in full: an
	// unchanged directory is not read again (hold and record files are
	// written once, by link or rename, and removed, never rewritten).
	holdsSeen, recordsSeen time.Time
	holdsRetry             time.Time // refused: not before then (Run only)
}

// forget makes the next pass send the holds and every record again: after
// an error, what the collector holds is not known.
func (t *retention) forget() {
	t.records, t.holds = nil, nil
	t.holdsSeen, t.recordsSeen = time.Time{}, time.Time{}
}

// fresh is how long after a directory's change it is read again whatever
// its modification time says: two changes within the file system's clock
// tick leave one time.
const fresh = 2 * time.Second

// unchanged tells whether dir was read in full since it last changed, and
// notes when it is read now (in *seen, once the caller is done).
func unchanged(dir string, seen time.Time, now time.Time) (bool, time.Time) {
	fi, err := os.Stat(dir)
	if err != nil {
		return false, time.Time{}
	}
	m := fi.ModTime()
	if now.Sub(m) < fresh {
		return false, time.Time{} // too recent to trust
	}
	return m.Equal(seen), m
}

// shipRetention sends the purge records the collector lacks and the holds
// if they changed. Like pass, it returns the refusals of single records
// or of the holds, and the error that ends the pass.
func (s *Shipper) shipRetention(ctx context.Context, once bool, now time.Time) (refused []error, err error) {
	t := &s.retention
	if t.records == nil {
		t.records = map[string]time.Time{}
	}
	dir := store.PurgedDir(s.opt.Dir)
	if same, m := unchanged(dir, t.recordsSeen, now); !same {
		ok := true
		files, err := store.ReadPurgeRecords(dir)
		if err != nil {
			// Unreadable now: the next pass tries again.
			s.opt.Log.Error("purge records not shipped", "dir", dir, "err", err)
			refused, ok = append(refused, &fileError{fmt.Errorf("purge records: %w", err)}), false
		}
		for _, f := range files {
			retry, seen := t.records[f.Name]
			if seen && (retry.IsZero() || !once && now.Before(retry)) {
				continue
			}
			err := s.sendRecord(ctx, f)
			var fe *fileError
			switch {
			case err == nil:
				t.records[f.Name] = time.Time{}
			case errors.As(err, &fe) && ctx.Err() == nil:
				if !seen || once {
					s.opt.Log.Error("purge record not shipped", "file", f.Name, "err", err)
				}
				t.records[f.Name], ok = now.Add(refusedRetry), false
				refused = append(refused, err)
			default:
				return refused, err
			}
		}
		if ok {
			t.recordsSeen = m
		}
	}

	hdir := store.HoldsDir(s.opt.Dir)
	same, m := unchanged(hdir, t.holdsSeen, now)
	if same && t.holds != nil || !once && now.Before(t.holdsRetry) {
		return refused, nil
	}
	err = s.sendHolds(ctx)
	var fe *fileError
	switch {
	case err == nil:
		t.holdsSeen, t.holdsRetry = m, time.Time{}
	case errors.As(err, &fe) && ctx.Err() == nil:
		if t.holdsRetry.IsZero() || once {
			s.opt.Log.Error("holds not shipped", "dir", hdir, "err", err)
		}
		t.holdsRetry = now.Add(refusedRetry)
		refused = append(refused, err)
	default:
		return refused, err
	}
	return refused, nil
}

// sendRecord sends one purge record. A refusal is a *fileError.
func (s *Shipper) sendRecord(ctx context.Context, f store.PurgeRecordFile) error {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	u := s.opt.Collector + fleetapi.PathPurgeRecord + "?" + url.Values{"file": {f.Name}}.Encode()
	var stored fleetapi.Stored
	_, err := post(ctx, s.opt.Client, u, "application/json", f.Data, &stored, http.StatusOK)
	return refusal(err, "purge record "+f.Name)
}

// sendHolds sends the holds in force when they differ from what the
// collector took last. A hold file that cannot be read keeps every hold
// as it was at the collector: sending the others would release it there.
func (s *Shipper) sendHolds(ctx context.Context) error {
	holds, err := store.LoadHolds(store.HoldsDir(s.opt.Dir))
	if err != nil {
		return &fileError{err}
	}
	hh := fleetapi.HostHolds{Holds: make([]store.Hold, 0, len(holds))}
	for _, h := range holds {
		hh.Holds = append(hh.Holds, h)
	}
	slices.SortFunc(hh.Holds, func(a, b store.Hold) int { return strings.Compare(a.Rec, b.Rec) })
	body, err := json.Marshal(hh)
	if err != nil {
		return &fileError{err}
	}
	if bytes.Equal(body, s.retention.holds) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	var r fleetapi.HostHoldsReply
	_, err = post(ctx, s.opt.Client, s.opt.Collector+fleetapi.PathHostHolds, "application/json", body, &r, http.StatusOK)
	if err = refusal(err, "holds"); err != nil {
		return err
	}
	s.retention.holds = body
	if r.Placed > 0 || r.Released > 0 {
		s.opt.Log.Info("holds shipped", "in_force", len(hh.Holds), "placed", r.Placed, "released", r.Released)
	}
	return nil
}

// refusal makes a collector's 4xx (but 408 and 429, its own trouble) about
// what a *fileError.
func refusal(err error, what string) error {
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code >= 400 && se.code < 500 &&
		se.code != http.StatusRequestTimeout && se.code != http.StatusTooManyRequests:
		return &fileError{fmt.Errorf("%s: %w", what, err)}
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
