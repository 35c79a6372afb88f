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

	"github.com/vigil-rec/vigil/conf"
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

// TestLayout checks an anchor, a plain message and a final anchor byte for
// byte against an independent computation of hashes and signatures.
func TestLayout(t *testing.T) {
	s := &sink{}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	priv := testKey()
	w := New(s, priv, time.Hour, clk.now)
	m1 := tlogMsg(1, "abc")
	orig := string(m1.Line)
	if err := w.WriteMessage(m1); err != nil {
		t.Fatal(err)
	}
	if string(m1.Line) != orig {
		t.Fatalf("caller's line not restored: %q", m1.Line)
	}
	plain := string(tlogMsg(2, "plain").Line)
	if err := w.WriteMessage(tlogMsg(2, "plain")); err != nil {
		t.Fatal(err)
	}
	if err := w.SetMeta(json.RawMessage(`{ "cmd" : "ls -l",
		"exit": 0 }`)); err != nil {
		t.Fatal(err)
	}
	m3 := tlogMsg(4, "d\"e")
	m3.Dropped = msg.Drop{Messages: 1, Bytes: 300}
	m3.Final = true
	if err := w.WriteMessage(m3); err != nil {
		t.Fatal(err)
	}
	keyID := keys.ID(priv.Public().(ed25519.PublicKey))
	signed := func(pre string, sum []byte) string {
		h := hex.EncodeToString(sum)
		sig := ed25519.Sign(priv, []byte("vigil-chain-v2\nr1\n"+h))
		return pre + `"hash":"` + h + `","key":"` + keyID + `","sig":"` + hex.EncodeToString(sig) + `"}}` + "\n"
	}

	pre1 := strings.TrimSuffix(orig, "}\n") + `,"vigil":{"v":2,"seq":1,`
	h := sha256.New()
	h.Write(make([]byte, 32))
	h.Write([]byte(pre1))
	sum1 := h.Sum(nil)
	if want := signed(pre1, sum1); s.lines[0] != want {
		t.Fatalf("line 1\n got %s\nwant %s", s.lines[0], want)
	}
	if s.lines[1] != plain {
		t.Fatalf("line 2 was changed:\n got %s\nwant %s", s.lines[1], plain)
	}
	pre3 := strings.TrimSuffix(string(tlogMsg(4, "d\"e").Line), "}\n") +
		`,"vigil":{"v":2,"seq":3,"drop":{"messages":1,"bytes":300},"meta":{"cmd":"ls -l","exit":0},"end":true,`
	h.Reset()
	h.Write(sum1)
	h.Write([]byte(plain))
	h.Write([]byte(pre3))
	if want := signed(pre3, h.Sum(nil)); s.lines[2] != want {
		t.Fatalf("line 3\n got %s\nwant %s", s.lines[2], want)
	}
	for i, l := range s.lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d is not valid JSON", i+1)
		}
	}
	if err := w.WriteMessage(tlogMsg(5, "x")); err == nil {
		t.Fatal("write after the final message succeeded")
	}
}

// TestSignPolicy checks which messages are anchors with a signature.
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
		{advance: time.Second, signed: true}, // the first message
		{advance: 9 * time.Second},           // 9 s since the last signature
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
		if anchor := strings.Contains(s.lines[i], Marker); anchor != st.signed {
			t.Errorf("message %d: anchor=%v, want %v: %s", i+1, anchor, st.signed, s.lines[i])
		}
	}
}

// TestEveryMessage: with SetAnchorEvery(1) every message carries the chain.
func TestEveryMessage(t *testing.T) {
	s := &sink{}
	w := New(s, nil, 0, nil)
	w.SetAnchorEvery(1)
	for i := uint64(1); i <= 5; i++ {
		if err := w.WriteMessage(tlogMsg(i, "x")); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range s.lines {
		if !strings.Contains(l, fmt.Sprintf(`%s,"seq":%d,`, Marker, i+1)) {
			t.Errorf("line %d is not an anchor: %s", i+1, l)
		}
	}
	if conf.DefaultRec().Sign.AnchorEvery != AnchorEvery {
		t.Errorf("sign.anchor_every defaults to %d, the chain to %d", conf.DefaultRec().Sign.AnchorEvery, AnchorEvery)
	}
}

// TestAnchorEvery: without a key, anchors come first, every AnchorEvery
// messages and at the end; the others pass unchanged.
func TestAnchorEvery(t *testing.T) {
	s := &sink{}
	w := New(s, nil, 0, nil)
	const n = 3*AnchorEvery + 10
	for i := uint64(1); i <= n; i++ {
		m := tlogMsg(i, "x")
		m.Final = i == n
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	anchors := map[int]bool{1: true, 1 + AnchorEvery: true, 1 + 2*AnchorEvery: true, 1 + 3*AnchorEvery: true, n: true}
	for i, l := range s.lines {
		seq := i + 1
		switch {
		case strings.Contains(l, `"sig"`):
			t.Errorf("line %d signed without a key: %s", seq, l)
		case anchors[seq] && !strings.Contains(l, fmt.Sprintf(`%s,"seq":%d,`, Marker, seq)):
			t.Errorf("line %d is not an anchor: %s", seq, l)
		case !anchors[seq] && l != string(tlogMsg(uint64(seq), "x").Line):
			t.Errorf("line %d was changed: %s", seq, l)
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
