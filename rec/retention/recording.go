package retention

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/tlog"
	"github.com/vigil-rec/vigil/rec/verify"
)

// recordingName matches the per-recording files of the file writer,
// <UTC start>-<host>-<user>-<rec>[.N].jsonl (rec/sink); purge touches
// nothing else.
var recordingName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-.+\.jsonl$`)

// Recording is what purge knows about one recording file.
type Recording struct {
	File  string    `json:"file"`
	Rec   string    `json:"rec"`
	User  string    `json:"user"`
	Host  string    `json:"host"`
	Start time.Time `json:"start,omitzero"` // zero: the format has no wall-clock time (tlog 2.2)
	// End is when the last message's last packet happened, by the
	// recording's own (chained) time fields; zero when unknown.
	End      time.Time `json:"end,omitzero"`
	Modified time.Time `json:"modified,omitzero"` // the file's mtime
	Size     int64     `json:"size"`
	// Read in full only when the recording is due: the SHA-256 of the
	// file, the chain hash of its last message (if that is an anchor) and
	// its integrity state as vigil-play verify reports it.
	SHA256   string `json:"sha256,omitempty"`
	LastHash string `json:"last_hash,omitempty"`
	State    string `json:"state,omitempty"`

	ino fileID
}

// Ended is when the recording counts as ended for its age: the later of
// its last packet and the file's mtime. Deleting is irreversible, so both
// clocks must agree it is old: the time fields travel with the file (a
// copy or restore resets the mtime), the mtime catches a recording made
// while the host's clock was far behind.
func (r *Recording) Ended() time.Time {
	if r.End.After(r.Modified) {
		return r.End
	}
	return r.Modified
}

type fileID struct{ dev, ino uint64 }

// ReadHead describes the recording in path from its first message: rec,
// user, host, start (and the file's size and mtime).
func ReadHead(path string) (*Recording, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := readHead(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func readHead(f *os.File) (*Recording, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	st := fi.Sys().(*syscall.Stat_t)
	r := &Recording{File: f.Name(), Modified: fi.ModTime().UTC(), Size: fi.Size(), ino: fileID{uint64(st.Dev), st.Ino}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, verify.MaxLine)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var d tlog.Decoder
		var m tlog.Message
		if err := d.Decode(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("line %d: not a recording: %w", line, err)
		}
		r.Rec, r.User, r.Host = m.Rec, m.User, m.Host
		if !m.Time.IsZero() {
			r.Start = m.Time.Add(-m.Pos).UTC()
		}
		return r, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("empty, not a recording")
}

// readAll reads the whole recording once: its SHA-256 and size, its
// integrity state, the chain hash and end time of its last message. A
// file holding several recordings is an error: purge takes one file for
// one recording.
func (r *Recording) readAll(f *os.File, trusted keys.Set) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sum := sha256.New()
	var last lastLine
	n := &counter{}
	reports, err := verify.Recordings(io.TeeReader(f, io.MultiWriter(sum, &last, n)), trusted)
	if err != nil {
		return err
	}
	if len(reports) != 1 {
		return fmt.Errorf("holds %d recordings, not one", len(reports))
	}
	r.Size, r.SHA256, r.State = n.n, hex.EncodeToString(sum.Sum(nil)), reports[0].State.String()
	var d tlog.Decoder
	var m tlog.Message
	if err := d.Decode(last.last, &m); err == nil && !m.Time.IsZero() {
		end := m.Pos
		if k := len(m.Events); k > 0 {
			end = m.Events[k-1].T
		}
		r.End = m.Time.Add(end - m.Pos).UTC()
	}
	var v struct {
		Vigil struct {
			Hash string `json:"hash"`
		} `json:"vigil"`
	}
	if json.Unmarshal(last.last, &v) == nil {
		r.LastHash = v.Vigil.Hash
	}
	return nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// lastLine keeps the last complete non-blank line written to it; a torn
// line at the end (crash mid-write) is not complete and does not count.
type lastLine struct{ cur, last []byte }

func (l *lastLine) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.add(p)
			break
		}
		l.add(p[:i])
		if len(bytes.TrimSpace(l.cur)) > 0 {
			l.last, l.cur = l.cur, l.last
		}
		l.cur = l.cur[:0]
		p = p[i+1:]
	}
	return n, nil
}

// add bounds what one line may take, as the verifier does.
func (l *lastLine) add(p []byte) {
	if len(l.cur)+len(p) <= verify.MaxLine {
		l.cur = append(l.cur, p...)
	}
}

// openFiles returns the files any process has open. A recording still
// being written must not be deleted, however old its last message: the
// session may just be idle, and its later messages would go to a deleted
// file. Purge calls it with no recording of its own open. Processes that
// vanish or cannot be inspected are passed over, so purge must run as root
// to see every recorder.
func openFiles() (map[fileID]bool, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	open := map[fileID]bool{}
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			// Only paths: sockets, pipes and anon inodes read "type:[n]".
			if target, err := os.Readlink(dir + fd.Name()); err != nil || target == "" || target[0] != '/' {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(dir+fd.Name(), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				open[fileID{uint64(st.Dev), st.Ino}] = true
			}
		}
	}
	return open, nil
}
