package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// fullDisk mounts a small tmpfs for recordings and fills it to leave about
// `free` bytes; deleting the returned filler frees the space again.
func fullDisk(t *testing.T, free int) (dir, filler string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "small")
	svctest.Tmpfs(t, dir, "size=1m,mode=755")
	filler = filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20-free), 0o600); err != nil {
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
	// Room for the recording's reserve and a little more.
	dir, filler := fullDisk(t, sink.Reserve+32<<10)
	e.dir = dir
	// Output well beyond the free space.
	term := startTerminal(t, 120, 40, binPath("vigil-rec"), e.args("--write-retry", "60s", "--", "sh", "-c", floodScript(4000))...)
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
	if !bytes.Contains(rec, []byte("line 4000")) || !bytes.HasSuffix(rec, []byte("finished\r\n")) {
		t.Errorf("recording incomplete: %d bytes, ends %q", len(rec), rec[max(0, len(rec)-40):])
	}
	// Everything the session printed is in the recording, exactly once.
	screen := stripVigilNotes(term.screen())
	if !bytes.Equal(rec, screen) {
		t.Errorf("recording and screen differ: %d vs %d bytes", len(rec), len(screen))
	}
}

// If the disk does not recover, the session ends instead of running
// unrecorded: everything the user saw is in the recording, which still
// ends with its signed final message saying why, and verifies.
func TestRecDiskFullEndsSession(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	e := newRecEnv(t)
	dir, _ := fullDisk(t, sink.Reserve+32<<10)
	e.dir = dir
	term := startTerminal(t, 120, 40, binPath("vigil-rec"), e.args("--write-retry", "2s", "--", "sh", "-c", floodScript(20000))...)
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
	path := e.only(t)
	e.verifyOK(t, path)
	data, _ := os.ReadFile(path)
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("the recording ends in a cut line: %q", data[max(0, len(data)-100):])
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	var end struct {
		Vigil struct {
			End  bool `json:"end"`
			Meta struct {
				Failed string `json:"failed"`
			} `json:"meta"`
		} `json:"vigil"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &end); err != nil || !end.Vigil.End || !strings.Contains(end.Vigil.Meta.Failed, "no space left") {
		t.Errorf("the last message is not the end saying why (%v): %.300s", err, lines[len(lines)-1])
	}
	// What the user saw is the start of what was recorded; the recording
	// may be ahead by the chunk that was recorded but not passed on.
	shown, rec := stripVigilNotes(screen), outputOf(decode(t, path))
	if !bytes.HasPrefix(rec, shown) {
		i := 0
		for i < min(len(shown), len(rec)) && shown[i] == rec[i] {
			i++
		}
		t.Fatalf("the user saw %d bytes, the recording holds %d; they differ at %d:\nshown %q\nrec   %q",
			len(shown), len(rec), i, shown[max(0, i-80):min(len(shown), i+80)], rec[max(0, i-80):min(len(rec), i+80)])
	}
}

// vigilNote matches what vigil-rec itself tells the user on the terminal.
var vigilNote = regexp.MustCompile(`(\r\n)?vigil-rec(-session)?: [^\n]*\n`)

// stripVigilNotes removes vigil-rec's own notes from a screen capture.
func stripVigilNotes(b []byte) []byte { return vigilNote.ReplaceAll(b, nil) }

// A recorded user over real sshd on a host whose recording disk fills up
// (1 MiB for /var/log/vigil): the session is held, then ended with every
// process of it; every line the client saw is in the recording, which ends
// with its signed end saying why, and verifies.
func TestLoginDiskFull(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	svctest.Tmpfs(t, "/var/log/vigil", fmt.Sprintf("size=1m,mode=750,uid=%d,gid=%d", vigilUID, vigilUID))
	flood := `i=0; while [ $i -lt 100000 ]; do i=$((i+1)); printf 'line %06d 0123456789012345678901234567890123456789\n' $i; done; echo finished`
	start := time.Now()
	term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST", "sleep 300 & "+flood))
	term.waitFor("session paused", 30*time.Second)
	code := term.wait(60 * time.Second)
	took := time.Since(start)
	screen := term.screen()
	if code == 0 || bytes.Contains(screen, []byte("finished")) || !bytes.Contains(screen, []byte("recording failed, ending the session")) {
		t.Errorf("ssh exit %d after %v; the session was not ended:\n%q", code, took, screen[max(0, len(screen)-400):])
	}
	// sshd may still be closing the connection when the client exits.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := exec.Command("ps", "--no-headers", "-u", "alice", "-o", "pid,stat,args").Output()
		if err != nil {
			break // none left
		}
		if time.Now().After(deadline) {
			t.Errorf("alice's processes outlive her session:\n%s", out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	recs := recordings(t)
	if len(recs) != 1 {
		t.Fatalf("recordings %v", recs)
	}
	verifyFile(t, recs[0], h.pub)
	data, _ := os.ReadFile(recs[0])
	if !bytes.Contains(data, []byte(`"failed":"recording sink: `)) {
		t.Errorf("the end does not say why the session ended: %.400s", data[max(0, len(data)-400):])
	}
	// Every numbered line the client saw is in the recording.
	shown := stripVigilNotes(screen)
	first := bytes.Index(shown, []byte("line 000001 "))
	last := bytes.LastIndex(shown, []byte("\n"))
	if first < 0 || last < first {
		t.Fatalf("the client saw no flood:\n%q", screen)
	}
	rec := outputOf(decode(t, recs[0]))
	if !bytes.Contains(rec, shown[first:last+1]) {
		t.Errorf("the client saw %d bytes of the flood that are not all in the recording (%d bytes of output), ending %q",
			last+1-first, len(rec), shown[max(first, last-80):last+1])
	}
	t.Logf("the client saw %d lines; ended after %v", bytes.Count(shown[first:last+1], []byte("\n")), took)
}
