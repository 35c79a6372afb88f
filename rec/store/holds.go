package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// HoldsDir is where the holds on the recordings in recDir are kept:
// beside the recordings, so they share their readers, survive the
// package's purge with them and travel with a copy of the directory.
func HoldsDir(recDir string) string { return filepath.Join(recDir, "holds") }

// Hold keeps a recording from being purged (a legal hold). It is stored as
// HoldsDir/<rec>.json.
type Hold struct {
	Rec    string    `json:"rec"`
	File   string    `json:"file,omitempty"` // the recording's file when the hold was placed, if found
	Since  time.Time `json:"since"`
	By     string    `json:"by"` // who placed it
	Reason string    `json:"reason,omitempty"`
}

// Holds are the holds in force, by recording id.
type Holds map[string]Hold

// Held says whether the recording rec is under a hold, and which.
func (h Holds) Held(rec string) (Hold, bool) {
	hold, ok := h[rec]
	return hold, ok
}

// recIDPattern is what a recording id must look like to name a hold file:
// tlog's and Vigil's ids are hex digits and dashes; no '/', no leading '.'.
var recIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,254}$`)

// CheckRecID refuses recording ids that cannot name a hold file.
func CheckRecID(rec string) error {
	if !recIDPattern.MatchString(rec) {
		return fmt.Errorf("recording id %q: want letters, digits and . _ : @ + - (not first), at most 255", rec)
	}
	return nil
}

// LoadHolds reads the holds in dir (see HoldsDir); a missing dir holds
// nothing. It returns every hold it could read and, if some file could not
// be read, an error naming each such file: purge then refuses to run, a
// listing may show what it has and warn.
func LoadHolds(dir string) (Holds, error) {
	holds := Holds{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return holds, nil
	}
	if err != nil {
		return holds, fmt.Errorf("holds: %w", err)
	}
	var errs []error
	for _, e := range entries {
		rec, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(e.Name(), ".") { // .*: a hold being written
			continue
		}
		path := filepath.Join(dir, e.Name())
		h, err := readHold(path)
		if err == nil && h.Rec != rec {
			err = fmt.Errorf("holds recording %q, but is named for %q", h.Rec, rec)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("hold %s: %w", path, err))
			continue
		}
		holds[rec] = h
	}
	return holds, errors.Join(errs...)
}

func readHold(path string) (Hold, error) {
	var h Hold
	data, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	err = json.Unmarshal(data, &h)
	return h, err
}

// Place puts h on its recording: HoldsDir(recDir)/<rec>.json. A recording
// already held is an error wrapping fs.ErrExist; the hold in force stays.
func Place(recDir string, h Hold) error {
	if err := CheckRecID(h.Rec); err != nil {
		return err
	}
	unlock, err := Lock(recDir)
	if err != nil {
		return err
	}
	defer unlock()
	dir := HoldsDir(recDir)
	if err := EnsureSubdir(dir); err != nil {
		return fmt.Errorf("holds: %w", err)
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	if err := CreateFile(dir, h.Rec+".json", append(data, '\n')); err != nil {
		return fmt.Errorf("hold %s: %w", h.Rec, err)
	}
	return nil
}

// Release lifts the hold on rec and returns it; a recording not held is an
// error wrapping fs.ErrNotExist.
func Release(recDir, rec string) (Hold, error) {
	if err := CheckRecID(rec); err != nil {
		return Hold{}, err
	}
	unlock, err := Lock(recDir)
	if err != nil {
		return Hold{}, err
	}
	defer unlock()
	dir := HoldsDir(recDir)
	path := filepath.Join(dir, rec+".json")
	h, err := readHold(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, fmt.Errorf("recording %s is not held: %w", rec, err)
	}
	// A damaged hold file is released too: it still holds rec.
	if err := os.Remove(path); err != nil {
		return h, fmt.Errorf("release %s: %w", rec, err)
	}
	return h, atomicfile.SyncDir(dir)
}
