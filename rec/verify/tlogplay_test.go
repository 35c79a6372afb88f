package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/creack/pty"
	"github.com/vigil-rec/vigil/rec/msg"
)

// tlogPlay plays file with Debian's tlog-play on a pty (it needs a
// terminal) and returns what it wrote.
func tlogPlay(t *testing.T, bin, file string) []byte {
	t.Helper()
	cmd := exec.Command(bin, "--speed=16", "-i", file)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, tty)
	// The master reads EIO once the player exits and closes the slave.
	if err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tlog-play %s: %v\n%s", file, err, out.Bytes())
	}
	return out.Bytes()
}

// TestTlogPlayCompat is the compatibility promise: tlog-play ignores the
// vigil object and plays a chained file exactly like the plain one.
func TestTlogPlayCompat(t *testing.T) {
	bin, err := exec.LookPath("tlog-play")
	if err != nil {
		t.Skip("tlog-play not installed (apt-get install tlog)")
	}
	dir := t.TempDir()
	var plain []byte
	s := &sink{}
	r := newRecorder(t, s, "880036822e704a8f8b7f642af594eba7-1a70-21a17", fixedKey(1))
	for i := uint64(1); i <= 6; i++ {
		text := fmt.Sprintf("line %d \x1b[1mbold\x1b[0m é\r\n", i)
		plain = append(plain, plainLine(r.rec, i, text)...)
		if i == 4 {
			if err := r.w.SetMeta([]byte(`{"cmd":"bash"}`)); err != nil {
				t.Fatal(err)
			}
		}
		r.write(text, i == 6, msg.Drop{})
	}
	pf, cf := filepath.Join(dir, "plain.jsonl"), filepath.Join(dir, "chained.jsonl")
	if err := os.WriteFile(pf, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cf, s.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := verifyOne(t, s.buf.Bytes(), trust(fixedKey(1))); rep.State != OK {
		t.Fatalf("chained file does not verify: %v", rep)
	}
	want, got := tlogPlay(t, bin, pf), tlogPlay(t, bin, cf)
	if !bytes.Contains(want, []byte("line 6 \x1b[1mbold")) {
		t.Fatalf("tlog-play did not play the plain file: %q", want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("tlog-play output differs:\nplain   %q\nchained %q", want, got)
	}
}
