package accesslog

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func trust(k ed25519.PrivateKey) keys.Set {
	s := keys.Set{}
	s.Add(k.Public().(ed25519.PublicKey))
	return s
}

// states is Verify's verdicts, "FILE:LINE=STATE" each.
func states(t *testing.T, dir string, trusted keys.Set) string {
	t.Helper()
	reps, err := Verify(dir, trusted)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range reps {
		out = append(out, r.File+":"+string(rune('0'+r.Line))+"="+r.StateName)
	}
	return strings.Join(out, " ")
}

// Lines are chained across months and across reopening; each change to
// the log shows: an edited line, a removed one, a line re-signed with
// another key, lines swapped.
func TestLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "access")
	key := testKey(1)
	l, err := Open(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	nov := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	for i, at := range []time.Time{nov, nov.Add(30 * time.Second), nov.Add(2 * time.Minute)} {
		e, err := l.Append(Entry{Time: at, Who: "root (login carol)", Action: "view", File: "/var/log/vigil/x.jsonl", Rec: "x"})
		if err != nil || e.Seq != uint64(i+1) {
			t.Fatalf("Append %d: %+v %v", i, e, err)
		}
	}
	// Reopened (policyd restarted), the chain goes on.
	if l, err = Open(dir, key); err != nil {
		t.Fatal(err)
	}
	if e, err := l.Append(Entry{Time: nov.Add(3 * time.Minute), Who: "bob", Action: "download", File: "y"}); err != nil || e.Seq != 4 {
		t.Fatalf("Append after reopening: %+v %v", e, err)
	}
	want := "2026-11.jsonl:1=OK 2026-11.jsonl:2=OK 2026-12.jsonl:1=OK 2026-12.jsonl:2=OK"
	if got := states(t, dir, trust(key)); got != want {
		t.Fatalf("log: %s, want %s", got, want)
	}
	if got := states(t, dir, trust(testKey(2))); !strings.Contains(got, "=UNKNOWN_KEY") || strings.Contains(got, "=OK") {
		t.Errorf("with another key trusted: %s", got)
	}
	nov30 := filepath.Join(dir, "2026-11.jsonl")
	orig, err := os.ReadFile(nov30)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"edited":  {bytes.Replace(orig, []byte("carol"), []byte("carl"), 1), "2026-11.jsonl:1=MODIFIED 2026-11.jsonl:2=MODIFIED"},
		"removed": {lines[1], "2026-11.jsonl:1=MODIFIED"},
		"swapped": {append(bytes.Clone(lines[1]), lines[0]...), "2026-11.jsonl:1=MODIFIED 2026-11.jsonl:2=MODIFIED"},
	} {
		if err := os.WriteFile(nov30, c.data, 0o640); err != nil {
			t.Fatal(err)
		}
		if got := states(t, dir, trust(key)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %s, want it to start %s", name, got, c.want)
		}
	}
	// A torn last line: the log goes on after it, and shows it.
	if err := os.WriteFile(nov30, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	dec := filepath.Join(dir, "2026-12.jsonl")
	f, err := os.OpenFile(dec, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"body":{"v":1,"se`)
	f.Close()
	if l, err = Open(dir, key); err != nil {
		t.Fatal(err)
	}
	if e, err := l.Append(Entry{Time: nov.Add(4 * time.Minute), Who: "bob", Action: "view", File: "z"}); err != nil || e.Seq != 6 {
		t.Fatalf("Append after a torn line: %+v %v", e, err)
	}
	want = "2026-11.jsonl:1=OK 2026-11.jsonl:2=OK 2026-12.jsonl:1=OK 2026-12.jsonl:2=OK 2026-12.jsonl:3=MODIFIED 2026-12.jsonl:4=OK"
	if got := states(t, dir, trust(key)); got != want {
		t.Errorf("after a torn line: %s, want %s", got, want)
	}
}
