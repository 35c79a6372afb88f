package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/msg"
)

type sink struct {
	lines []string
	err   error
}

func (s *sink) WriteMessage(m *msg.Message) error {
	if s.err != nil {
		return s.err
	}
	s.lines = append(s.lines, string(m.Line))
	return nil
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func tlogMsg(id uint64, text string) *msg.Message {
	line := fmt.Sprintf(`{"ver":"2.3","host":"h","rec":"r1","user":"u","term":"xterm","session":1,"id":%d,"pos":%d,"time":1.000,"timing":">%d","in_txt":"","in_bin":[],"out_txt":%q,"out_bin":[]}`+"\n", id, id*10, len(text), text)
	return &msg.Message{Line: []byte(line), Rec: "r1", ID: id}
}

func testKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) }

// TestLayout checks one line byte for byte against an independent
// computation of hash and signature.
func TestLayout(t *testing.T) {
	s := &sink{}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	priv := testKey()
	w := New(s, priv, time.Second, clk.now)
	m1 := tlogMsg(1, "abc")
	orig := string(m1.Line)
	if err := w.WriteMessage(m1); err != nil {
		t.Fatal(err)
	}
	if string(m1.Line) != orig {
		t.Fatalf("caller's line not restored: %q", m1.Line)
	}
	if err := w.SetMeta(json.RawMessage(`{ "cmd" : "ls -l",
		"exit": 0 }`)); err != nil {
		t.Fatal(err)
	}
	m2 := tlogMsg(3, "d\"e")
	m2.Dropped = msg.Drop{Messages: 1, Bytes: 300}
	m2.Final = true
	if err := w.WriteMessage(m2); err != nil {
		t.Fatal(err)
	}

	want1pre := strings.TrimSuffix(orig, "}\n") + `,"vigil":{"v":1,"seq":1,"prev":"` + ZeroHash + `",`
	sum1 := sha256.Sum256([]byte(want1pre))
	h1 := hex.EncodeToString(sum1[:])
	if want := want1pre + `"hash":"` + h1 + `"}}` + "\n"; s.lines[0] != want {
		t.Fatalf("line 1\n got %s\nwant %s", s.lines[0], want)
	}

	want2pre := strings.TrimSuffix(string(tlogMsg(3, "d\"e").Line), "}\n") +
		`,"vigil":{"v":1,"seq":2,"prev":"` + h1 + `","drop":{"messages":1,"bytes":300},"meta":{"cmd":"ls -l","exit":0},"end":true,`
	sum2 := sha256.Sum256([]byte(want2pre))
	h2 := hex.EncodeToString(sum2[:])
	sig := ed25519.Sign(priv, []byte("vigil-chain-v1\nr1\n"+h2))
	keyID := keys.ID(priv.Public().(ed25519.PublicKey))
	want := want2pre + `"hash":"` + h2 + `","key":"` + keyID + `","sig":"` + hex.EncodeToString(sig) + `"}}` + "\n"
	if s.lines[1] != want {
		t.Fatalf("line 2\n got %s\nwant %s", s.lines[1], want)
	}
	if !json.Valid([]byte(s.lines[1])) {
		t.Fatal("line 2 is not valid JSON")
	}
	if err := w.WriteMessage(tlogMsg(4, "x")); err == nil {
		t.Fatal("write after the final message succeeded")
	}
}

// TestSignPolicy checks which messages carry a signature.
func TestSignPolicy(t *testing.T) {
	s := &sink{}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	w := New(s, testKey(), 10*time.Second, clk.now)
	type step struct {
		advance    time.Duration
		checkpoint bool
		drop       bool
		meta       bool
		final      bool
		signed     bool
	}
	steps := []step{
		{advance: time.Second},               // 1 s since New
		{advance: 8 * time.Second},           // 9 s
		{advance: time.Second, signed: true}, // 10 s: interval reached
		{advance: time.Second},               // 1 s since the last signature
		{checkpoint: true, signed: true},     // latency flush
		{advance: 9 * time.Second},           // 9 s
		{drop: true, signed: true},           // drop record
		{meta: true, signed: true},           // recorder metadata
		{advance: 5 * time.Second},           // 5 s
		{final: true, signed: true},          // end
	}
	for i, st := range steps {
		clk.t = clk.t.Add(st.advance)
		m := tlogMsg(uint64(i+1), "x")
		m.Checkpoint, m.Final = st.checkpoint, st.final
		if st.drop {
			m.Dropped = msg.Drop{Messages: 2, Bytes: 10}
		}
		if st.meta {
			if err := w.SetMeta(json.RawMessage(`{"exit":1}`)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(s.lines[i], `"sig":"`); got != st.signed {
			t.Errorf("message %d: signed=%v, want %v: %s", i+1, got, st.signed, s.lines[i])
		}
	}
}

func TestUnsignedChain(t *testing.T) {
	s := &sink{}
	w := New(s, nil, 0, nil)
	for i := uint64(1); i <= 3; i++ {
		m := tlogMsg(i, "x")
		m.Final = i == 3
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range s.lines {
		if strings.Contains(l, `"sig"`) || !strings.Contains(l, fmt.Sprintf(`"seq":%d,`, i+1)) {
			t.Errorf("line %d: %s", i+1, l)
		}
	}
}

func TestMeta(t *testing.T) {
	w := New(&sink{}, nil, 0, nil)
	for _, bad := range []string{`[1]`, `"s"`, `{`, `{"a":1}{"b":2}`, ``} {
		if err := w.SetMeta(json.RawMessage(bad)); err == nil {
			t.Errorf("SetMeta(%q) accepted", bad)
		}
	}
	for _, good := range []string{`{}`, `{"a":1}`, `{}`, "{\"b\":\n[2]}"} {
		if err := w.SetMeta(json.RawMessage(good)); err != nil {
			t.Fatalf("SetMeta(%q): %v", good, err)
		}
	}
	if string(w.meta) != `{"a":1,"b":[2]}` {
		t.Fatalf("merged meta %s", w.meta)
	}
}

func TestErrors(t *testing.T) {
	if err := New(&sink{}, ed25519.PrivateKey{1, 2}, 0, nil).WriteMessage(tlogMsg(1, "x")); err == nil {
		t.Error("short key accepted")
	}
	w := New(&sink{}, nil, 0, nil)
	if err := w.WriteMessage(&msg.Message{Line: []byte("not json\n"), Rec: "r1"}); err == nil {
		t.Error("non-object line accepted")
	}
	m := tlogMsg(1, "x")
	m.Rec = "other"
	if err := w.WriteMessage(m); err == nil {
		t.Error("rec not in line accepted")
	}
	if err := w.WriteMessage(tlogMsg(1, "x")); err != nil {
		t.Fatal(err)
	}
	m = tlogMsg(2, "x")
	m.Rec = "r2"
	if err := w.WriteMessage(m); err == nil {
		t.Error("second recording accepted by one chain")
	}

	boom := errors.New("disk full")
	s := &sink{err: boom}
	w = New(s, nil, 0, nil)
	if err := w.WriteMessage(tlogMsg(1, "x")); !errors.Is(err, boom) {
		t.Fatalf("sink error %v", err)
	}
	s.err = nil
	if err := w.WriteMessage(tlogMsg(2, "x")); !errors.Is(err, boom) {
		t.Fatalf("chain continued after a failed write: %v", err)
	}
}

type discard struct{ n int }

func (d *discard) WriteMessage(m *msg.Message) error { d.n += len(m.Line); return nil }

// BenchmarkChain measures the hot path: 2 KiB lines, unsigned except every
// 10 s of fake time (never reached here), as most messages are.
func BenchmarkChain(b *testing.B) {
	// ">N" grows by 3 digits when the text goes from empty to ~1.8 KiB.
	m := tlogMsg(1, strings.Repeat("z", 2048-len(tlogMsg(1, "").Line)-3))
	if len(m.Line) != 2048 {
		b.Fatalf("line has %d bytes", len(m.Line))
	}
	w := New(&discard{}, testKey(), 10*time.Second, nil)
	b.SetBytes(int64(len(m.Line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChainSigned signs every message, the cost checkpoints avoid.
func BenchmarkChainSigned(b *testing.B) {
	m := tlogMsg(1, strings.Repeat("y", 1800))
	w := New(&discard{}, testKey(), 0, nil)
	b.SetBytes(int64(len(m.Line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}
