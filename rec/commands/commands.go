// Package commands is the command log of a recorded session (format
// "vigil-commands" v1, rec/spec/commands.md): a signed, hash-chained
// JSON-lines companion of the recording, one entry per line. Written by
// vigil-cmdlog, read by vigil-play, shipped with the recording: writer,
// parser and verifier live here, side by side.
package commands

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/rec/store"
)

// Version is the format version in every entry's "v".
const Version = 1

// Domain prefixes what an entry's signature covers, so that no signature
// of a recording's chain or of a purge record passes for an entry.
const Domain = "vigil-commands-v1\n"

// Entry kinds.
const (
	KindStart = "start" // the first entry: which recording
	KindExec  = "exec"  // one command
	KindLost  = "lost"  // commands may be missing here
	KindEnd   = "end"   // the last entry: the recording ended
)

// Redacted replaces what redaction removes from an argument.
const Redacted = "[REDACTED]"

// Entry is the body of one line. Members are in the order of the spec's
// table; which are present depends on Kind.
type Entry struct {
	V       int       `json:"v"`
	Rec     string    `json:"rec"`
	Seq     uint64    `json:"seq"`
	Prev    string    `json:"prev,omitempty"` // SHA-256 of the previous line
	Kind    string    `json:"kind"`
	Time    time.Time `json:"time"`
	Start   time.Time `json:"start,omitzero"` // start: the recording's start
	Host    string    `json:"host,omitempty"`
	User    string    `json:"user,omitempty"`
	Session uint32    `json:"session,omitempty"`
	Cmd     *Command  `json:"cmd,omitempty"`
	Lost    string    `json:"lost,omitempty"`
	Count   *uint64   `json:"count,omitempty"` // end: exec entries in the file
}

// Command is what an exec entry says about one execve/execveat call.
type Command struct {
	PID        int      `json:"pid"`
	PPID       int      `json:"ppid"`
	UID        uint32   `json:"uid"`
	EUID       uint32   `json:"euid"`
	AUID       uint32   `json:"auid"`
	TTY        string   `json:"tty,omitempty"`
	Cwd        string   `json:"cwd,omitempty"`
	Exe        string   `json:"exe,omitempty"`
	Path       string   `json:"path,omitempty"`
	Argv       []string `json:"argv"`
	Redacted   int      `json:"redacted,omitempty"`
	OK         bool     `json:"ok"`
	Exit       int64    `json:"exit"`
	Incomplete bool     `json:"incomplete,omitempty"`
	Problems   []string `json:"problems,omitempty"`
}

// DirName is the subdirectory of the recordings directory that holds the
// command logs.
const DirName = "commands"

// Dir is where the command logs of the recordings in recDir are.
func Dir(recDir string) string { return filepath.Join(recDir, DirName) }

// Path is the command log of recording rec in recDir; rec must pass
// store.CheckRecID.
func Path(recDir, rec string) (string, error) {
	if err := store.CheckRecID(rec); err != nil {
		return "", err
	}
	return filepath.Join(Dir(recDir), rec+".jsonl"), nil
}

// RecOf is the recording that a command log's file name (REC.jsonl)
// names; ok is false for names that are not a command log's.
func RecOf(name string) (rec string, ok bool) {
	rec, ok = strings.CutSuffix(name, ".jsonl")
	if !ok || store.CheckRecID(rec) != nil {
		return "", false
	}
	return rec, true
}

// IsLogName says whether name is a command log's file name.
func IsLogName(name string) bool {
	_, ok := RecOf(name)
	return ok
}

// Offset is when e happened relative to the recording's start (from the
// log's start entry): the position to play the recording from.
func (e *Entry) Offset(start time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	return e.Time.Sub(start)
}
