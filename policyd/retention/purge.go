package retention

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// Action is what purge did, or in a dry run would do, with a recording.
type Action string

// Actions.
const (
	Purged Action = "purge"  // past its retention: deleted (dry run: would be)
	Held   Action = "held"   // past its retention, but under a hold
	InUse  Action = "in-use" // past its retention, but still open: the session may go on
	Kept   Action = "keep"   // within its retention, or kept forever
	Failed Action = "error"  // could not be read (so it is kept) or not deleted
)

// Entry is one recording, as purge found it, and its retention.
type Entry struct {
	Recording
	Period
}

// Outcome is what purge found and did for one recording file.
type Outcome struct {
	Entry
	Action Action      `json:"action"`
	Why    string      `json:"why,omitempty"`
	Hold   *store.Hold `json:"hold,omitempty"`
}

// Options say what to purge and how to record it.
type Options struct {
	Dir     string    // the recordings; holds and records beside them
	Now     time.Time // ages are measured to it
	Rules   *Rules
	Trusted keys.Set // for the integrity state noted of each purged recording
	KeyFile string   // signing key of the record, read only when something is purged
	DryRun  bool     // decide and report, delete and record nothing

	// For the record: this host, who runs purge, the policy file and the
	// SHA-256 of its content.
	Host, By, Policy, PolicyHash string
}

// Result is what a purge run did.
type Result struct {
	Record       string    `json:"record,omitempty"` // the purge record written, if any
	RecordSHA256 string    `json:"record_sha256,omitempty"`
	Seq          uint64    `json:"seq,omitempty"`
	Recordings   []Outcome `json:"recordings"`
}

// Purge deletes the recordings in o.Dir that are past their retention and
// not held. Only files named like recordings are looked at; one that
// cannot be read or parsed is kept and reported (Failed). The record of
// what is deleted is written, signed and synced before anything is
// deleted: if it cannot be, Purge deletes nothing and returns an error.
// A deletion that fails after that is reported as Failed (the record lists
// the file; the next run lists it again). Per-recording problems are in
// the Result; the error is for what stopped the run.
func Purge(o Options) (*Result, error) {
	unlock, err := store.Lock(o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	holds, err := store.LoadHolds(store.HoldsDir(o.Dir))
	if err != nil {
		return nil, fmt.Errorf("%w; nothing purged: a hold that cannot be read could be on any recording", err)
	}
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, err
	}
	res := &Result{Recordings: []Outcome{}}
	var due []int
	for _, e := range entries {
		if !store.IsRecordingName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		out := o.examine(filepath.Join(o.Dir, e.Name()), holds)
		if out.Action == Purged {
			due = append(due, len(res.Recordings))
		}
		res.Recordings = append(res.Recordings, out)
	}
	if len(due) == 0 {
		return res, nil
	}
	open, err := openFiles()
	if err != nil {
		return nil, fmt.Errorf("cannot tell which recordings are still being written: %w; nothing purged", err)
	}
	var purge []int
	for _, i := range due {
		if out := &res.Recordings[i]; open[out.ino] {
			out.Action, out.Why = InUse, "open by a running process: the session may still be going on"
		} else {
			purge = append(purge, i)
		}
	}
	if o.DryRun || len(purge) == 0 {
		return res, nil
	}
	key, err := keys.LoadPrivate(o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing key for the purge record: %w; nothing purged", err)
	}
	rec := &store.PurgeRecord{Time: o.Now.UTC(), Host: o.Host, By: o.By, Policy: o.Policy, PolicyHash: o.PolicyHash}
	for _, i := range purge {
		e := res.Recordings[i].Entry
		rec.Recordings = append(rec.Recordings, store.PurgeEntry{PurgedFile: e.PurgedFile, Retention: e.Period})
	}
	if res.Record, res.RecordSHA256, err = store.AppendPurgeRecord(store.PurgedDir(o.Dir), rec, key); err != nil {
		return nil, fmt.Errorf("%w; nothing purged", err)
	}
	res.Seq = rec.Seq
	for _, i := range purge {
		out := &res.Recordings[i]
		if err := os.Remove(out.File); err != nil {
			out.Action, out.Why = Failed, fmt.Sprintf("listed in %s but not deleted: %v", res.Record, bare(err))
			continue
		}
		// The recording's command log goes with it (rec/spec/commands.md).
		if log, err := commands.Path(o.Dir, out.Rec); err == nil {
			if err := os.Remove(log); err != nil && !errors.Is(err, fs.ErrNotExist) {
				out.Why = fmt.Sprintf("its command log was not deleted: %v", err)
			}
		}
	}
	return res, atomicfile.SyncDir(o.Dir)
}

// examine decides about one recording file.
func (o *Options) examine(path string, holds store.Holds) Outcome {
	out := Outcome{Entry: Entry{Recording: Recording{PurgedFile: store.PurgedFile{File: path}}}}
	fail := func(err error) Outcome {
		out.Action, out.Why = Failed, "kept: "+bare(err).Error()
		return out
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	r, err := head(f)
	if err != nil {
		return fail(err)
	}
	out.Recording = *r
	if out.Period, err = o.Rules.For(r.User, r.Host); err != nil {
		return fail(err)
	}
	if out.Days == 0 {
		out.Action, out.Why = Kept, "kept forever"
		return out
	}
	cutoff := o.Now.Add(-time.Duration(out.Days) * 24 * time.Hour)
	young := func() Outcome {
		out.Action, out.Why = Kept, "within its retention until "+out.Ended().AddDate(0, 0, out.Days).Format(time.RFC3339)
		return out
	}
	if r.Modified.After(cutoff) {
		return young() // no need to read it: Ended is at least its mtime
	}
	if err := out.readAll(f, o.Trusted); err != nil {
		return fail(err)
	}
	if out.Ended().After(cutoff) {
		return young()
	}
	if h, ok := holds.Held(r.Rec); ok {
		out.Action, out.Hold = Held, &h
		out.Why = fmt.Sprintf("past its retention, held since %s by %s", h.Since.Format(time.RFC3339), h.By)
		return out
	}
	out.Action = Purged
	return out
}

// bare drops the path from an error about a recording: outcomes name the
// file themselves.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
