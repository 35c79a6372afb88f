package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/msg"
)

// What the Writer writes, ParseAnchor reads back: seq, drop, meta, end,
// the hash (which covers the line up to Hashed) and the signature.
func FuzzAnchorRoundTrip(f *testing.F) {
	f.Add(uint8(3), uint64(0), uint64(0), "", true, true, "out")
	f.Add(uint8(1), uint64(5), uint64(300), `{"cmd":"ls"}`, false, false, "x\"y\\z")
	f.Add(uint8(9), uint64(1), uint64(0), `{"a":[1,{"b":null}]}`, true, false, "\u202e\x1b]52;")
	f.Fuzz(func(t *testing.T, n uint8, dropMsgs, dropBytes uint64, meta string, final, sign bool, text string) {
		var priv ed25519.PrivateKey
		if sign {
			priv = testKey()
		}
		s := &sink{}
		w := New(s, priv, time.Hour, nil)
		w.SetAnchorEvery(2)
		count := int(n%16) + 1
		for i := 1; i <= count; i++ {
			m := tlogMsg(uint64(i), text)
			if i == count {
				m.Dropped = msg.Drop{Messages: dropMsgs, Bytes: dropBytes}
				m.Final = final
				if meta != "" && w.SetMeta(json.RawMessage(meta)) != nil {
					meta = "" // not an object: SetMeta refused it
				}
			}
			if err := w.WriteMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		prev := make([]byte, sha256.Size)
		h := sha256.New()
		h.Write(prev)
		var last Anchor
		anchors := 0
		for i, l := range s.lines {
			line := []byte(strings.TrimSuffix(l, "\n"))
			at := bytes.Index(line, []byte(Marker))
			if at < 0 {
				h.Write([]byte(l))
				continue
			}
			a, err := ParseAnchor(line, at)
			if err != nil {
				t.Fatalf("line %d: %v\n%s", i+1, err, l)
			}
			anchors++
			if a.Seq != uint64(i+1) {
				t.Fatalf("line %d: seq %d", i+1, a.Seq)
			}
			h.Write(line[:a.Hashed])
			if sum := h.Sum(nil); !bytes.Equal(sum, a.Hash[:]) {
				t.Fatalf("line %d: stored hash %x, the line hashes to %x", i+1, a.Hash, sum)
			}
			if a.Key != "" && (!sign || !ed25519.Verify(priv.Public().(ed25519.PublicKey), SigInput(nil, "r1", a.HashHex), a.Sig)) {
				t.Fatalf("line %d: key %q, signature does not verify", i+1, a.Key)
			}
			if sign && a.Key == "" && (a.Seq == 1 || a.End) {
				t.Fatalf("line %d: the first or the end anchor is not signed", i+1)
			}
			h.Reset()
			h.Write(a.Hash[:])
			last = a
		}
		if anchors == 0 || last.Seq != 1 && last.Seq < uint64(count)-1 {
			t.Fatalf("%d anchors, the last at seq %d of %d", anchors, last.Seq, count)
		}
		drop := msg.Drop{Messages: dropMsgs, Bytes: dropBytes}
		if !final && meta == "" && drop == (msg.Drop{}) {
			return // the last message need not be an anchor
		}
		if last.Seq != uint64(count) {
			t.Fatalf("the last message is no anchor: last anchor at seq %d of %d", last.Seq, count)
		}
		if last.End != final || last.Drop != drop {
			t.Fatalf("last anchor end %v drop %+v", last.End, last.Drop)
		}
		if meta != "" && !json.Valid(last.Meta) {
			t.Fatalf("meta %q read back as %q", meta, last.Meta)
		}
	})
}

// Spellings of the same JSON that the Writer never writes are refused.
func TestParseAnchorCanonical(t *testing.T) {
	good := `{"id":1,"vigil":{"v":2,"seq":1,"hash":"` + strings.Repeat("0", 64) + `"}}`
	at := strings.Index(good, Marker)
	if _, err := ParseAnchor([]byte(good), at); err != nil {
		t.Fatalf("canonical anchor refused: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, `"seq":1`, `"seq":01`, 1),
		strings.Replace(good, `"seq":1`, `"seq":0`, 1),
		strings.Replace(good, `"seq":1,`, `"seq":1 ,`, 1),
		strings.Replace(good, strings.Repeat("0", 64), strings.Repeat("A", 64), 1),
		strings.Replace(good, `"}}`, `"} }`, 1),
		good + " ",
		strings.Replace(good, `"hash"`, `"drop":{"messages":0,"bytes":0},"hash"`, 1),
	} {
		if _, err := ParseAnchor([]byte(bad), strings.Index(bad, Marker)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
