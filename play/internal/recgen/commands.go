package recgen

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/store"
)

// Command is an entry of a generated command log, T into the recording:
// a command run by UID in Cwd (a failed call when Exit < 0), or, with Lost
// set, where commands may be missing.
type Command struct {
	T    time.Duration
	UID  uint32
	Cwd  string
	Argv []string
	Exit int64
	Lost string
}

// CommandLog writes the command log of the recording m describes into
// recDir with rec/commands' writer (signed with m.Key; its start entry
// says m.Start), ended one second after the last entry unless open, and
// returns its path.
func CommandLog(recDir string, m Meta, cmds []Command, open bool) (string, error) {
	w, err := commands.Create(recDir, commands.Entry{Rec: m.Rec, Time: m.Start, Start: m.Start, Host: m.Host, User: m.User, Session: 1}, m.Key)
	if err != nil {
		return "", err
	}
	last := m.Start
	for i, c := range cmds {
		e := commands.Entry{Kind: commands.KindLost, Time: m.Start.Add(c.T), Lost: c.Lost}
		if c.Lost == "" {
			e.Kind = commands.KindExec
			e.Cmd = &commands.Command{PID: 1000 + i, PPID: 999, UID: c.UID, EUID: c.UID, AUID: 1000, TTY: "pts0", Cwd: c.Cwd,
				Exe: "/usr/bin/" + c.Argv[0], Path: c.Argv[0], Argv: c.Argv, OK: c.Exit == 0, Exit: c.Exit}
		}
		if err := w.Append(e); err != nil {
			return "", errors.Join(err, w.Close())
		}
		last = e.Time
	}
	if open {
		return w.Path(), w.Close()
	}
	return w.Path(), w.End(last.Add(time.Second))
}

// WriteFile writes the recording m describes, with chunks, into dir under
// the name the file writer gives it (rec/store), where play, list and the
// command logs' readers find it by id, and returns its path.
func WriteFile(dir string, m Meta, chunks []Chunk) (string, error) {
	path := filepath.Join(dir, store.Meta{Start: m.Start, Host: m.Host, User: m.User, Rec: m.Rec}.Name(0))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	err = Write(f, m, slices.Values(chunks))
	return path, errors.Join(err, f.Close())
}
