// Package cmdlog is vigil-cmdlog's work: it binds the kernel's exec events
// to the recordings in progress by audit session and writes each
// recording's command log (rec/spec/commands.md).
package cmdlog

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/audit"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/session"
)

// Config is what a Logger needs.
type Config struct {
	RecDir string // the recordings directory; logs go to its commands/
	RunDir string // where recorders register (/run/vigil)
	// Key signs the logs; with KeyFile set, each new log is signed with the
	// key in that file then (a rotated key is used from the next session
	// on, as by the recorder), Key only when the file cannot be read.
	Key      ed25519.PrivateKey
	KeyFile  string
	Redactor *Redactor
	// Grace is how long a recording's log stays open after its recorder
	// ended, for events still in flight (default 2 s).
	Grace time.Duration
	Log   *slog.Logger
	Now   func() time.Time // default time.Now
}

// Logger writes the command logs. It is not safe for concurrent use: Run
// drives it from one goroutine.
type Logger struct {
	cfg       Config
	open      map[string]*recording // by rec
	bySession map[uint32][]*recording
	ended     map[uint32]endedLog // sessions whose logs were closed, for the journal
	dirMtime  time.Time           // RunDir's mtime at the last scan
	scanned   time.Time
	started   time.Time
}

// endedLog is the recording of a session whose log was ended.
type endedLog struct {
	rec string
	at  time.Time
}

// endedMemory is how long events of a session whose log was ended are
// still logged to the journal as such.
const endedMemory = time.Hour

// recording is one open command log.
type recording struct {
	reg   session.Registration
	w     *commands.Writer
	endAt time.Time // when to write end; zero while the recorder runs
}

// New returns a Logger; Start must run before events are handled.
func New(cfg Config) *Logger {
	if cfg.Grace == 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Logger{cfg: cfg, open: map[string]*recording{}, bySession: map[uint32][]*recording{}, ended: map[uint32]endedLog{}}
}

// Start picks up after a previous run: logs left open whose recordings
// still run are resumed, with a lost entry naming the time the daemon was
// away; those whose recordings ended meanwhile are resumed and ended.
func (l *Logger) Start() {
	l.started = l.cfg.Now()
	l.Scan()
	entries, err := os.ReadDir(commands.Dir(l.cfg.RecDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.cfg.Log.Error("command logs", "err", err)
	}
	for _, e := range entries {
		rec, ok := commands.RecOf(e.Name())
		if !ok || l.open[rec] != nil || !e.Type().IsRegular() || endsWithEnd(commands.Dir(l.cfg.RecDir), e.Name()) {
			continue
		}
		w, err := l.resume(rec)
		if err != nil {
			if !errors.Is(err, commands.ErrEnded) {
				l.cfg.Log.Error("cannot end the command log of a recording that ended while vigil-cmdlog was not running", "rec", rec, "err", err)
			}
			continue
		}
		if err := w.End(l.cfg.Now()); err != nil {
			l.cfg.Log.Error("end command log", "rec", rec, "err", err)
		}
	}
}

// endsWithEnd says whether the log's last line is an end entry (a quick
// look, so that Start does not read every old log in full).
func endsWithEnd(dir, name string) bool {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	buf := make([]byte, min(fi.Size(), 4096))
	if _, err := f.ReadAt(buf, fi.Size()-int64(len(buf))); err != nil {
		return false
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	last := buf[bytes.LastIndexByte(buf, '\n')+1:]
	return bytes.Contains(last, []byte(`,"kind":"end",`))
}

// key is the key for a log opened now.
func (l *Logger) key() ed25519.PrivateKey {
	if l.cfg.KeyFile == "" {
		return l.cfg.Key
	}
	k, err := keys.LoadPrivate(l.cfg.KeyFile)
	if err != nil {
		l.cfg.Log.Error("signing key: the key read at start signs this log", "err", err)
		return l.cfg.Key
	}
	return k
}

// resume continues rec's existing log with a lost entry saying since
// when the daemon was away.
func (l *Logger) resume(rec string) (*commands.Writer, error) {
	w, cut, err := commands.Resume(l.cfg.RecDir, rec, l.key())
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("vigil-cmdlog was not running from %s to %s", w.Last().Format(time.RFC3339), l.started.UTC().Format(time.RFC3339))
	if cut > 0 {
		what += fmt.Sprintf("; a last line of %d bytes cut off while being written was removed", cut)
	}
	if err := w.Append(commands.Entry{Kind: commands.KindLost, Time: l.cfg.Now(), Lost: what}); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Scan reads the registrations: new recordings get a log, ended ones are
// ended once their grace has passed.
func (l *Logger) Scan() {
	now := l.cfg.Now()
	if fi, err := os.Stat(l.cfg.RunDir); err == nil {
		l.dirMtime = fi.ModTime()
	}
	l.scanned = now
	regs, errs := session.Registrations(l.cfg.RunDir)
	for _, err := range errs {
		l.cfg.Log.Warn("recording registration", "err", err)
	}
	for rec, reg := range regs {
		if l.open[rec] == nil && reg.Alive() {
			l.openLog(reg)
		}
	}
	for rec, r := range l.open {
		if reg, ok := regs[rec]; r.endAt.IsZero() && (!ok || !reg.Alive()) {
			r.endAt = now.Add(l.cfg.Grace)
		}
		if !r.endAt.IsZero() && !now.Before(r.endAt) {
			l.closeLog(r, now)
		}
	}
	for ses, e := range l.ended {
		if now.Sub(e.at) > endedMemory {
			delete(l.ended, ses)
		}
	}
}

// openLog starts (or, after a restart of the daemon, resumes) reg's log.
func (l *Logger) openLog(reg session.Registration) {
	start := commands.Entry{Rec: reg.Rec, Time: l.cfg.Now(), Start: reg.Start, Host: reg.Host, User: reg.User, Session: reg.Session}
	w, err := commands.Create(l.cfg.RecDir, start, l.key())
	if errors.Is(err, fs.ErrExist) {
		w, err = l.resume(reg.Rec)
	}
	if err != nil {
		l.cfg.Log.Error("cannot write the command log: the session's commands are not kept", "rec", reg.Rec, "user", reg.User, "err", err)
		return
	}
	r := &recording{reg: reg, w: w}
	l.open[reg.Rec] = r
	l.bySession[reg.Session] = append(l.bySession[reg.Session], r)
	l.cfg.Log.Info("command log opened", "rec", reg.Rec, "user", reg.User, "session", reg.Session, "file", w.Path())
}

// closeLog writes r's end entry.
func (l *Logger) closeLog(r *recording, now time.Time) {
	if err := r.w.End(now); err != nil {
		l.cfg.Log.Error("end command log", "rec", r.reg.Rec, "err", err)
	}
	delete(l.open, r.reg.Rec)
	rs := l.bySession[r.reg.Session]
	for i, o := range rs {
		if o == r {
			rs = append(rs[:i], rs[i+1:]...)
			break
		}
	}
	if len(rs) == 0 {
		delete(l.bySession, r.reg.Session)
	} else {
		l.bySession[r.reg.Session] = rs
	}
	l.ended[r.reg.Session] = endedLog{r.reg.Rec, now}
	l.cfg.Log.Info("command log ended", "rec", r.reg.Rec)
}

// Handle writes ev to the logs of the recordings of its audit session.
func (l *Logger) Handle(ev *audit.CommandEvent) {
	if ev.Session == audit.Unset {
		return
	}
	rs := l.bySession[ev.Session]
	if len(rs) == 0 && l.registryChanged() {
		l.Scan()
		rs = l.bySession[ev.Session]
	}
	if len(rs) == 0 {
		if e, ok := l.ended[ev.Session]; ok {
			l.cfg.Log.Info("command in a recorded session after its recording ended", "rec", e.rec, "event", ev.String())
		}
		return
	}
	argv, n := ev.Argv, 0
	if l.cfg.Redactor != nil {
		argv, n = l.cfg.Redactor.Argv(argv)
	}
	c := &commands.Command{PID: ev.PID, PPID: ev.PPID, UID: ev.UID, EUID: ev.EUID, AUID: ev.AUID, TTY: ev.TTY,
		Cwd: ev.Cwd, Exe: ev.Exe, Path: ev.Executable, Argv: argv, Redacted: n, OK: ev.Success, Exit: ev.Exit,
		Incomplete: ev.Incomplete, Problems: ev.Problems}
	if c.Argv == nil {
		c.Argv = []string{}
	}
	for _, r := range rs {
		if err := r.w.Append(commands.Entry{Kind: commands.KindExec, Time: ev.Time, Cmd: c}); err != nil {
			l.cfg.Log.Error("command not written", "rec", r.reg.Rec, "err", err, "event", ev.String())
		}
	}
}

// registryChanged says whether recordings may have registered since the
// last scan: RunDir's mtime moved, or the scan was within 2 s of it (two
// changes within one tick of a coarse clock leave the mtime alone).
func (l *Logger) registryChanged() bool {
	fi, err := os.Stat(l.cfg.RunDir)
	if err != nil {
		return false
	}
	return !fi.ModTime().Equal(l.dirMtime) || l.scanned.Sub(l.dirMtime) < 2*time.Second
}

// Lost appends a lost entry to every open log.
func (l *Logger) Lost(what string) {
	now := l.cfg.Now()
	for _, r := range l.open {
		if err := r.w.Append(commands.Entry{Kind: commands.KindLost, Time: now, Lost: what}); err != nil {
			l.cfg.Log.Error("lost entry not written", "rec", r.reg.Rec, "err", err)
		}
	}
}

// Close closes every open log without ending it: the next run resumes
// them.
func (l *Logger) Close() error {
	var errs []error
	for _, r := range l.open {
		errs = append(errs, r.w.Close())
	}
	l.open, l.bySession = map[string]*recording{}, map[uint32][]*recording{}
	return errors.Join(errs...)
}

// Open is how many logs are open.
func (l *Logger) Open() int { return len(l.open) }

// RecDir is the recordings directory whose commands/ gets the logs: c.Dir
// when set, else the recorder's file.path (its directory when it names a
// single file), else the default (the journal and syslog writers).
func RecDir(c conf.Commands, r conf.Rec) string {
	switch {
	case c.Dir != "":
		return c.Dir
	case r.Writer != "file" || r.File.Path == "":
		return conf.DefaultRecDir
	}
	if fi, err := os.Stat(r.File.Path); err == nil && !fi.IsDir() {
		return filepath.Dir(r.File.Path)
	}
	return r.File.Path
}
