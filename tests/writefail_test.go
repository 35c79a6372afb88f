package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// fullDisk mounts a small tmpfs for recordings and fills it to leave about
// `free` bytes; deleting the returned filler frees the space again.
func fullDisk(t *testing.T, free int) (dir, filler string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "small")
	svctest.Tmpfs(t, dir, "size=256k,mode=755")
	filler = filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 256<<10-free), 0o600); err != nil {
		t.Fatalf("fill the small disk: %v", err)
	}
	return dir + "/", filler
}

// floodScript prints n numbered 57-byte lines, then "finished".
func floodScript(n int) string {
	return fmt.Sprintf(`for i in $(seq 1 %d); do printf 'line %%04d %%s\n' $i 0123456789012345678901234567890123456789; done; echo finished`, n)
}

// When the disk fills up, the session is held (nothing unrecorded reaches
// the user), the user is told, and once space is back the recording
// resumes and is complete and valid.
func TestRecDiskFullRecovers(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	e := newRecEnv(t)
	dir, filler := fullDisk(t, 16<<10)
	e.dir = dir
	// Output well beyond the free space.
	term := startTerminal(t, 120, 40, binPath("vigil-rec"), e.args("--write-retry", "60s", "--", "sh", "-c", floodScript(400))...)
	term.waitFor("session paused", 30*time.Second)
	held := term.screen()
	time.Sleep(time.Second)
	if !bytes.Equal(held, term.screen()) {
		t.Fatalf("output kept flowing while the recording could not be written")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	term.waitFor("recording resumed", 10*time.Second)
	if got := term.wait(30 * time.Second); got != 0 {
		t.Fatalf("exit %d: %q", got, term.screen())
	}
	path := e.only(t)
	e.verifyOK(t, path)
	rec := outputOf(decode(t, path))
	if !bytes.Contains(rec, []byte("line 0400")) || !bytes.HasSuffix(rec, []byte("finished\r\n")) {
		t.Errorf("recording incomplete: %d bytes, ends %q", len(rec), rec[max(0, len(rec)-40):])
	}
	// Everything the session printed is in the recording, exactly once.
	screen := stripVigilNotes(term.screen())
	if !bytes.Equal(rec, screen) {
		t.Errorf("recording and screen differ: %d vs %d bytes", len(rec), len(screen))
	}
}

// If the disk does not recover, the session ends instead of running
// unrecorded, and what the user saw is no more than what was recorded.
func TestRecDiskFullEndsSession(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	e := newRecEnv(t)
	dir, _ := fullDisk(t, 16<<10)
	e.dir = dir
	term := startTerminal(t, 120, 40, binPath("vigil-rec"), e.args("--write-retry", "2s", "--", "sh", "-c", floodScript(2000))...)
	if got := term.wait(30 * time.Second); got == 0 {
		t.Fatalf("session ended with status 0 although its recording failed")
	}
	screen := term.screen()
	if !bytes.Contains(screen, []byte("recording failed, ending the session")) {
		t.Errorf("the user was not told: %q", screen[max(0, len(screen)-300):])
	}
	if bytes.Contains(screen, []byte("finished")) {
		t.Errorf("the session ran to the end unrecorded")
	}
	m, _ := filepath.Glob(dir + "*.jsonl")
	if len(m) != 1 {
		t.Fatalf("recordings %v", m)
	}
	data, _ := os.ReadFile(m[0])
	shown := stripVigilNotes(screen)
	// The complete messages on disk and the screen agree on their common
	// part. The screen may be ahead by what was buffered in the unsent
	// message, the message the disk refused (each <= payload) and the lines
	// the file sink gathered for its next write; the recording may be ahead
	// by the start of the chunk whose write failed, which the user never saw.
	var rec []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break // the half-written message
		}
		d, err := tlog.ParseMessage(line)
		if err != nil {
			t.Fatalf("complete line does not parse: %v", err)
		}
		for _, ev := range d.Events {
			if ev.Kind == tlog.KindOut {
				rec = append(rec, ev.Data...)
			}
		}
	}
	n := min(len(shown), len(rec))
	if !bytes.Equal(shown[:n], rec[:n]) {
		i := 0
		for i < n && shown[i] == rec[i] {
			i++
		}
		t.Fatalf("the recording and what the user saw differ within their common %d bytes, at %d:\nshown %q\nrec   %q", n, i, shown[max(0, i-80):min(n, i+80)], rec[max(0, i-80):min(n, i+80)])
	}
	// Plus what the file sink had gathered for its next write.
	if gap, limit := len(shown)-len(rec), 3*2048+sink.BatchSize; gap > limit {
		t.Errorf("the user saw %d bytes that are not in the recording (limit %d)", gap, limit)
	}
}

// vigilNote matches what vigil-rec itself tells the user on the terminal.
var vigilNote = regexp.MustCompile(`(\r\n)?vigil-rec: [^\n]*\n`)

// stripVigilNotes removes vigil-rec's own notes from a screen capture.
func stripVigilNotes(b []byte) []byte { return vigilNote.ReplaceAll(b, nil) }
