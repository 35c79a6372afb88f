// Package accesslog is the host's record of who looked at which recording:
// every view, search and download made through the Cockpit page (play/web)
// is appended here by vigil-policyd (D-Bus RecordAccess) before the page
// shows anything. Each line is signed with the host's key and chained to
// the line before, so that an edited, removed or reordered line shows
// (policyd/spec/dbus.md, "RecordAccess"):
//
//	{"body":BODY,"key":"<key id>","sig":"<128 hex>"}\n
//
// in the layout of rec/store's signed records, the signature over
// "vigil-access-v1\n" + hex SHA-256 of BODY. Lines go to DIR/YYYY-MM.jsonl
// by the month (UTC) of their time; the chain runs across the files.
package accesslog

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/conf/atomicfile"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// DefaultDir is where the access log is kept: off the recordings' directory,
// which the recorder account owns, and kept when the package is purged.
const DefaultDir = "/var/log/vigil-access"

// Domain prefixes what an access line's signature covers.
const Domain = "vigil-access-v1\n"

// Version is the format version of an access line's body.
const Version = 1

// Actions the page records.
var Actions = []string{"view", "download", "search", "verify"}

// Entry is one access: who did what to which recording, from where.
type Entry struct {
	V    int       `json:"v"`
	Seq  uint64    `json:"seq"`  // 1 for the log's first line
	Prev string    `json:"prev"` // hex SHA-256 of the line before; "" for seq 1
	Time time.Time `json:"time"`
	// Who: the caller's user name and, when it differs, the user who
	// logged in (an admin's superuser bridge runs as root).
	Who string `json:"who"`
	UID uint32 `json:"uid"`
	// Session is the caller's audit session (/proc/PID/sessionid), which
	// joins the access to its login in the journal, wtmp and the audit
	// trail: where the viewer logged in from. 0: none.
	Session uint32 `json:"session,omitempty"`
	Action  string `json:"action"`
	File    string `json:"file"`          // the recording's file, or the search's scope
	Rec     string `json:"rec,omitempty"` // the recording id, when one
	Detail  string `json:"detail,omitempty"`
	From    string `json:"from,omitempty"` // where the viewer is, as the page was told
}

// fileName is a log file's name: the month of its lines.
var fileName = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}\.jsonl$`)

// Log appends to the access log in one directory. Safe for concurrent use;
// one process writes a directory (policyd).
type Log struct {
	dir string
	key ed25519.PrivateKey
	mu  sync.Mutex
	seq uint64
	// prev is the SHA-256 of the last line, as read back at Open: a line
	// that does not parse (torn, edited) is chained to all the same, so the
	// log goes on and the damage stays visible to Verify.
	prev string
}

// Open opens the log in dir (made 0750 if missing), to be signed with key.
// It reads the newest line to chain to it.
func Open(dir string, key ed25519.PrivateKey) (*Log, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	files, err := logFiles(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, key: key}
	for i := len(files) - 1; i >= 0 && l.prev == ""; i-- {
		path := filepath.Join(dir, files[i])
		if err := endLine(path); err != nil {
			return nil, err
		}
		lines, err := readLines(path)
		if err != nil {
			return nil, err
		}
		for j := len(lines) - 1; j >= 0; j-- {
			if l.prev == "" {
				l.prev = store.SHA256Hex(lines[j])
			}
			if e, _, err := parse(lines[j]); err == nil {
				l.seq = e.Seq + uint64(len(lines)-1-j)
				break
			}
		}
	}
	return l, nil
}

// endLine ends path's last line, torn by a crash mid-write, so that the
// next line is a line of its own: the torn one stays, and shows.
func endLine(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return fmt.Errorf("access log %s: %w", path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("access log %s: %w", path, err)
	}
	return f.Sync()
}

// Append completes e (V, Seq, Prev, and Time when zero), signs it and
// appends it, synced, before it returns: an access is on disk before the
// page shows anything.
func (l *Log) Append(e Entry) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.V, e.Seq, e.Prev = Version, l.seq+1, l.prev
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	body, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	line := store.Sign(Domain, body, l.key)
	path := filepath.Join(l.dir, e.Time.Format("2006-01")+".jsonl")
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return e, fmt.Errorf("access log: %w", err)
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, fs.ErrNotExist) {
		err = atomicfile.SyncDir(l.dir) // a new month's file
	}
	if err != nil {
		return e, fmt.Errorf("access log %s: %w", path, err)
	}
	l.seq, l.prev = e.Seq, store.SHA256Hex(bytes.TrimSuffix(line, []byte("\n")))
	return e, nil
}

// Report is one line of the log as Verify found it.
type Report struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Entry *Entry `json:"entry,omitempty"` // nil: the line does not parse
	Key   string `json:"key,omitempty"`
	store.Verdict
}

// Verify reads the whole log in dir and checks every line: its signature
// against trusted, and that it links to the line before with the next
// seq. States, worst first: MODIFIED (not a signed line in the canonical
// layout, a signature that does not verify, a link to another line than
// the one before, or a seq out of order: a line was edited, inserted or
// moved), MISSING (a seq skipped: lines were removed), UNKNOWN_KEY,
// UNSIGNED, OK. Removing the newest lines cannot be seen from the log
// alone: compare with policyd's journal, which logs each line's seq.
func Verify(dir string, trusted keys.Set) ([]Report, error) {
	files, err := logFiles(dir)
	if err != nil {
		return nil, err
	}
	var reps []Report
	var prev string
	var seq uint64
	for _, name := range files {
		lines, err := readLines(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for i, line := range lines {
			r := Report{File: name, Line: i + 1}
			e, env, err := parse(line)
			switch {
			case err != nil:
				// It took a seq when it was written (Open counts it).
				r.Note(verify.Modified, "%v", err)
				seq++
			default:
				r.Entry, r.Key = e, env.Key
				env.Check(Domain, trusted, &r.Verdict)
				switch {
				case e.Seq <= seq:
					r.Note(verify.Modified, "seq %d after seq %d", e.Seq, seq)
				case e.Prev != prev:
					r.Note(verify.Modified, "does not link to the line before it")
				case e.Seq > seq+1:
					r.Note(verify.Missing, "seq %d follows seq %d: %d line(s) removed", e.Seq, seq, e.Seq-seq-1)
				}
				seq = max(seq, e.Seq)
			}
			prev = store.SHA256Hex(line)
			r.Named()
			reps = append(reps, r)
		}
	}
	return reps, nil
}

// parse reads one line (without its '\n').
func parse(line []byte) (*Entry, store.Signed, error) {
	env, err := store.ParseSigned(append(bytes.Clone(line), '\n'))
	if err != nil {
		return nil, env, err
	}
	var e Entry
	if err := env.DecodeBody(&e, func() int { return e.V }, Version); err != nil {
		return nil, env, err
	}
	return &e, env, nil
}

// logFiles lists dir's log files, oldest first; a missing dir has none.
func logFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	var names []string
	for _, e := range entries {
		if fileName.MatchString(e.Name()) && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// maxLine bounds a line read back: what Append writes is far smaller.
const maxLine = 1 << 20

// readLines reads path's lines, without their '\n'; a last line without
// one (a torn write) is a line too.
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("access log %s: %w", path, err)
	}
	return lines, nil
}
