package player

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Journal reads a recording's messages from the systemd journal, where tlog
// and vigil-rec -w journal put each message in a MESSAGE field with the
// recording id in TLOG_REC (as Cockpit reads them). It is an io.Reader of
// the messages as lines, for reader.New.
type Journal struct {
	rec     string
	cmd     *exec.Cmd
	stdout  io.ReadCloser
	stderr  bytes.Buffer
	dec     *json.Decoder
	pending []byte
	entries int
	err     error // sticky: returned by every Read once set

	// Following, a goroutine reads the entries into lines, sets err and
	// closes lines when journalctl ends; closing done stops it.
	lines chan []byte
	done  chan struct{}
	proc  *os.Process // journalctl, which the goroutine reaps
}

// OpenJournal starts journalctl to read the messages of recording rec.
func OpenJournal(rec string) (*Journal, error) { return openJournal(rec, false) }

// FollowJournal starts journalctl to read the messages of recording rec
// and those added later. Like Tail, its Read returns io.EOF, without
// blocking, whenever no message is there yet: read again later.
func FollowJournal(rec string) (*Journal, error) { return openJournal(rec, true) }

func openJournal(rec string, follow bool) (*Journal, error) {
	if rec == "" || strings.ContainsAny(rec, "\n") {
		return nil, fmt.Errorf("bad recording id %q for the journal", rec)
	}
	// -a: without it journalctl shows fields over 4096 bytes as null.
	args := []string{"--no-pager", "-a", "-o", "json", "--output-fields=MESSAGE,TLOG_REC,TLOG_ID", "TLOG_REC=" + rec}
	if follow {
		args = append(args, "--follow", "--lines=all")
	}
	cmd := exec.Command("journalctl", args...)
	j := &Journal{rec: rec, cmd: cmd}
	cmd.Stderr = &j.stderr
	var err error
	if j.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("journalctl: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run journalctl: %w", err)
	}
	j.dec = json.NewDecoder(bufio.NewReaderSize(j.stdout, 256<<10))
	if follow {
		j.lines, j.done, j.proc = make(chan []byte, 64), make(chan struct{}), cmd.Process
		go j.follow()
	}
	return j, nil
}

func (j *Journal) follow() {
	defer close(j.lines)
	for {
		line, err := j.entry()
		if err != nil {
			j.err = err
			return
		}
		select {
		case j.lines <- line:
		case <-j.done:
			return
		}
	}
}

// JournalRecordings returns the ids of the recordings in the journal: the
// values of TLOG_REC.
func JournalRecordings() ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("journalctl", "--no-pager", "-F", "TLOG_REC")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}

// Name names the input in errors.
func (j *Journal) Name() string { return "journal:TLOG_REC=" + j.rec }

// Read implements io.Reader.
func (j *Journal) Read(p []byte) (int, error) {
	for len(j.pending) == 0 {
		if j.lines != nil {
			select {
			case line, ok := <-j.lines:
				if !ok {
					return 0, j.err // set before lines was closed
				}
				j.pending = line
				continue
			default:
				return 0, io.EOF
			}
		}
		if j.err != nil {
			return 0, j.err
		}
		j.pending, j.err = j.entry()
	}
	n := copy(p, j.pending)
	j.pending = j.pending[n:]
	return n, nil
}

// entry reads the next entry's MESSAGE, as a line.
func (j *Journal) entry() ([]byte, error) {
	var ent struct {
		Message json.RawMessage `json:"MESSAGE"`
	}
	if err := j.dec.Decode(&ent); err != nil {
		if err != io.EOF {
			return nil, fmt.Errorf("journalctl output: %w", err)
		}
		if err := j.wait(); err != nil {
			return nil, err
		}
		if j.entries == 0 {
			return nil, fmt.Errorf("no journal entries with TLOG_REC=%s", j.rec)
		}
		return nil, io.EOF
	}
	j.entries++
	msg, err := journalField(ent.Message)
	if err != nil {
		return nil, fmt.Errorf("journal entry %d of TLOG_REC=%s: MESSAGE: %w", j.entries, j.rec, err)
	}
	// tlog's MESSAGE is the line without its newline; earlier Vigil
	// versions sent it with one.
	if !bytes.HasSuffix(msg, []byte("\n")) {
		msg = append(msg, '\n')
	}
	return msg, nil
}

// journalField decodes a field of journalctl's JSON: a string when it is
// valid UTF-8 without control characters, else an array of byte values.
func journalField(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s), nil
	}
	// Not []byte: encoding/json takes that for base64 text.
	var nums []int
	if err := json.Unmarshal(raw, &nums); err != nil {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, errors.New("missing")
		}
		return nil, fmt.Errorf("neither a string nor an array of bytes: %.40s", raw)
	}
	b := make([]byte, len(nums))
	for i, n := range nums {
		if n < 0 || n > 255 {
			return nil, fmt.Errorf("byte value %d out of range", n)
		}
		b[i] = byte(n)
	}
	return b, nil
}

// wait reaps journalctl, with its complaint if it failed.
func (j *Journal) wait() error {
	if j.cmd == nil {
		return nil
	}
	cmd := j.cmd
	j.cmd = nil
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("journalctl: %w: %s", err, strings.TrimSpace(j.stderr.String()))
	}
	return nil
}

// Close stops journalctl if it is still running.
func (j *Journal) Close() {
	if j.done != nil {
		close(j.done)
		j.done = nil
		// Killed under the goroutine reading it, which then ends.
		_ = j.proc.Kill()
		for range j.lines {
		}
		return
	}
	if j.cmd == nil {
		return
	}
	_ = j.cmd.Process.Kill()
	_ = j.cmd.Wait() // killed: its exit status says nothing
	j.cmd = nil
}
