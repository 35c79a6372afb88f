package pgstore

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/commands"
)

// commandLog writes a command log of host's recording rec with n commands,
// ended when end, signed with key, as vigil-cmdlog does.
func commandLog(t *testing.T, host, rec string, key ed25519.PrivateKey, n int, end bool) []byte {
	t.Helper()
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	w, err := commands.Create(dir, commands.Entry{Rec: rec, Time: t0, Start: t0, Host: host, User: "alice", Session: 3}, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Append(commands.Entry{Kind: commands.KindExec, Time: t0.Add(time.Duration(i) * time.Second),
			Cmd: &commands.Command{PID: 10 + i, Argv: []string{"ls", "-l"}, OK: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if end {
		err = w.End(t0.Add(time.Hour))
	} else {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Command logs arrive in pieces, each checked as the continuation of what
// is stored; forged, reordered, other hosts' lines are refused and nothing
// of them is stored.
func TestCommandLogs(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key, other := newKey(t), newKey(t)
	enroll(t, s, host, pubOf(key))
	enroll(t, s, "h2.example.com", pubOf(other))
	data := commandLog(t, host, "rec1", key, 5, true)
	ls := lines(data)
	file := "rec1.jsonl"

	if acked, err := s.AppendCommands(ctx, host, file, 0, nil); err != nil || acked != 0 {
		t.Fatalf("ask before anything: %d %v", acked, err)
	}
	off := int64(0)
	for i, piece := range [][]byte{ls[0], bytes.Join(ls[1:4], nil), bytes.Join(ls[4:], nil)} {
		acked, err := s.AppendCommands(ctx, host, file, off, piece)
		if err != nil || acked != off+int64(len(piece)) {
			t.Fatalf("piece %d: %d %v", i, acked, err)
		}
		// The same piece again at its offset: 409's length, nothing stored.
		if again, err := s.AppendCommands(ctx, host, file, off, piece); err != nil || again != acked {
			t.Fatalf("piece %d again: %d %v", i, again, err)
		}
		off = acked
	}
	if got, err := s.CommandLog(ctx, host, "rec1"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored log differs: %v", err)
	}
	// More after the end, even signed.
	more := commandLog(t, host, "rec1", key, 6, true)
	if _, err := s.AppendCommands(ctx, host, file, off, lines(more)[6]); !errors.Is(err, ErrCommandsForged) {
		t.Errorf("after the end: %v", err)
	}

	log2 := commandLog(t, host, "rec2", key, 3, false)
	l2 := lines(log2)
	forged := commandLog(t, host, "rec2", other, 3, false)
	for _, c := range []struct {
		name string
		host string
		file string
		data []byte
		want error
	}{
		{"other key", host, "rec2.jsonl", lines(forged)[0], ErrCommandsForged},
		{"another host's log", "h2.example.com", "rec2.jsonl", lines(forged)[0], ErrWrongHost},
		{"not lines", host, "rec2.jsonl", l2[0][:10], ErrNotLines},
		{"bad name", host, "../rec2.jsonl", l2[0], ErrNotLines},
		{"a line skipped", host, "rec2.jsonl", append(append([]byte{}, l2[0]...), l2[2]...), ErrCommandsForged},
		{"edited", host, "rec2.jsonl", bytes.Replace(l2[0], []byte("alice"), []byte("alicf"), 1), ErrCommandsForged},
	} {
		if _, err := s.AppendCommands(ctx, c.host, c.file, 0, c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if acked, err := s.AppendCommands(ctx, host, "rec2.jsonl", 0, nil); err != nil || acked != 0 {
		t.Errorf("refused lines were stored: %d %v", acked, err)
	}
	// In progress: stored, and continued later.
	if _, err := s.AppendCommands(ctx, host, "rec2.jsonl", 0, bytes.Join(l2[:2], nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendCommands(ctx, host, "rec2.jsonl", int64(len(l2[0])+len(l2[1])), l2[3]); !errors.Is(err, ErrCommandsForged) {
		t.Errorf("a line skipped later: %v", err)
	}
	if _, err := s.CommandLog(ctx, host, "none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no log: %v", err)
	}
}
