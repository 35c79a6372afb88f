package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Registration announces a recording in progress to vigil-cmdlog, which
// writes the commands of its audit session beside it
// (rec/spec/commands.md §3): /run/vigil/recording.<rec>.json, written by
// the recorder as vigil, removed when the recording ends.
type Registration struct {
	Rec      string    `json:"rec"`
	Session  uint32    `json:"session"`
	PID      int       `json:"pid"`
	PIDStart uint64    `json:"pid_start"` // clock ticks since boot, /proc/PID/stat field 22
	Start    time.Time `json:"start"`
	User     string    `json:"user"`
	Host     string    `json:"host"`
}

const (
	regPrefix = "recording."
	regSuffix = ".json"
)

// Register writes r (with this process as the recorder) into dir and
// returns a function that removes it. A recording without an audit
// session has no commands to bind, and is not registered.
func Register(dir string, r Registration) (remove func() error, err error) {
	if r.Session == UnsetSession {
		return func() error { return nil }, nil
	}
	if strings.ContainsAny(r.Rec, "/\x00") || r.Rec == "" || r.Rec[0] == '.' {
		return nil, fmt.Errorf("register recording %q: not a file name", r.Rec)
	}
	r.PID = os.Getpid()
	r.PIDStart = startTime(r.PID)
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, regPrefix+r.Rec+regSuffix)
	tmp := path + ".tmp"
	// Written whole then renamed: the daemon never reads half a file.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("register recording: %w", err)
	}
	_, werr := f.Write(append(data, '\n'))
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("register recording: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("register recording: %w", err)
	}
	return func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("unregister recording: %w", err)
		}
		return nil
	}, nil
}

// Registrations reads the recordings registered in dir, keyed by rec.
// Unreadable or malformed files are skipped and returned as errors.
func Registrations(dir string) (map[string]Registration, []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{err}
	}
	regs := map[string]Registration{}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, regPrefix) || !strings.HasSuffix(name, regSuffix) || !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // ended meanwhile
		}
		var r Registration
		if err == nil {
			err = json.Unmarshal(data, &r)
		}
		if err == nil && regPrefix+r.Rec+regSuffix != name {
			err = fmt.Errorf("names recording %q", r.Rec)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, name), err))
			continue
		}
		regs[r.Rec] = r
	}
	return regs, errs
}

// Alive says whether r's recorder still runs (its PID is not reused).
func (r Registration) Alive() bool {
	return r.PID > 0 && startTime(r.PID) == r.PIDStart
}
