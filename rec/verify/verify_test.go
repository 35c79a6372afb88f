package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/msg"
	"github.com/vigil-rec/vigil/rec/tlog"
)

type sink struct{ buf bytes.Buffer }

func (s *sink) WriteMessage(m *msg.Message) error { s.buf.Write(m.Line); return nil }

// plainLine is a valid tlog line whose text varies with id.
func plainLine(rec string, id uint64, text string) []byte {
	t, _ := json.Marshal(text)
	return fmt.Appendf(nil, `{"ver":"2.3","host":"h","rec":%q,"user":"u","term":"xterm","session":1,"id":%d,"pos":%d,"time":1.%03d,"timing":">%d","in_txt":"","in_bin":[],"out_txt":%s,"out_bin":[]}`+"\n",
		rec, id, id*100, id%1000, len([]rune(text)), t)
}

// recorder writes one recording through a chain with a fake clock that
// advances 300 ms per message, so checkpoints fall every ~4 messages.
type recorder struct {
	t   testing.TB
	w   *chain.Writer
	rec string
	id  uint64
	clk time.Time
}

func newRecorder(t testing.TB, out msg.Writer, rec string, priv ed25519.PrivateKey) *recorder {
	r := &recorder{t: t, rec: rec, clk: time.Unix(1700000000, 0)}
	r.w = chain.New(out, priv, time.Second, func() time.Time { return r.clk })
	return r
}

func (r *recorder) write(text string, final bool, drop msg.Drop) {
	r.t.Helper()
	r.id++
	r.clk = r.clk.Add(300 * time.Millisecond)
	m := &msg.Message{Line: plainLine(r.rec, r.id, text), Rec: r.rec, ID: r.id, Final: final, Dropped: drop}
	if err := r.w.WriteMessage(m); err != nil {
		r.t.Fatal(err)
	}
}

func record(t *testing.T, priv ed25519.PrivateKey, n int) []byte {
	s := &sink{}
	r := newRecorder(t, s, "r1", priv)
	for i := 1; i <= n; i++ {
		r.write(fmt.Sprintf("line %d \x1b[1m\"é\"\r\n", i), i == n, msg.Drop{})
	}
	return s.buf.Bytes()
}

func fixedKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func trust(priv ed25519.PrivateKey) keys.Set {
	s := keys.Set{}
	s.Add(priv.Public().(ed25519.PublicKey))
	return s
}

func verifyOne(t *testing.T, data []byte, trusted keys.Set) Report {
	t.Helper()
	reps, err := Recordings(bytes.NewReader(data), trusted)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 {
		t.Fatalf("%d reports: %v", len(reps), reps)
	}
	return reps[0]
}

func splitLines(data []byte) [][]byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	return lines[:len(lines)-1] // after the final '\n'

}

func TestOK(t *testing.T) {
	priv := fixedKey(1)
	rep := verifyOne(t, record(t, priv, 50), trust(priv))
	if rep.State != OK || rep.Messages != 50 || rep.LastSignedSeq != 50 || rep.Rec != "r1" {
		t.Fatalf("%+v", rep)
	}
	if id := keys.ID(priv.Public().(ed25519.PublicKey)); len(rep.KeyIDs) != 1 || rep.KeyIDs[0] != id {
		t.Fatalf("key ids %v, want %s", rep.KeyIDs, id)
	}
	if s := rep.String(); !strings.Contains(s, "recording r1: OK; 50 messages") {
		t.Fatalf("String() = %q", s)
	}
}

func TestSingleByteEdits(t *testing.T) {
	priv := fixedKey(1)
	orig := record(t, priv, 50)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		data := bytes.Clone(orig)
		pos := rnd.IntN(len(data))
		data[pos] ^= byte(1 + rnd.IntN(255))
		reps, err := Recordings(bytes.NewReader(data), trust(priv))
		if err != nil {
			t.Fatal(err)
		}
		if allOK(reps) {
			t.Fatalf("edit at byte %d (%q -> %q) not detected", pos, orig[pos], data[pos])
		}
	}
}

// TestEditsEverywhere edits every byte of one line that holds drop, meta
// and a signature, so each part of the layout is covered.
func TestEditsEverywhere(t *testing.T) {
	priv := fixedKey(1)
	s := &sink{}
	r := newRecorder(t, s, "r1", priv)
	r.write("a", false, msg.Drop{})
	if err := r.w.SetMeta(json.RawMessage(`{"cmd":"scp -t /x","exit":0}`)); err != nil {
		t.Fatal(err)
	}
	r.write("b", true, msg.Drop{Messages: 3, Bytes: 999})
	orig := s.buf.Bytes()
	start := bytes.IndexByte(orig, '\n') + 1
	for pos := start; pos < len(orig); pos++ {
		for _, v := range []byte{'0', 'a', 'A', ' ', '"', '\n', '}'} {
			if orig[pos] == v {
				continue
			}
			data := bytes.Clone(orig)
			data[pos] = v
			reps, err := Recordings(bytes.NewReader(data), trust(priv))
			if err != nil {
				t.Fatal(err)
			}
			if allOK(reps) {
				t.Fatalf("byte %d %q -> %q not detected", pos, orig[pos], v)
			}
		}
	}
}

func allOK(reps []Report) bool {
	for _, r := range reps {
		if r.State != OK {
			return false
		}
	}
	return true
}

func TestDeletions(t *testing.T) {
	priv := fixedKey(1)
	lines := splitLines(record(t, priv, 50))
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; i++ {
		// Delete one line, sometimes a run of lines.
		k := rnd.IntN(len(lines))
		n := 1
		if i%4 == 0 {
			n = 1 + rnd.IntN(len(lines)-k)
		}
		data := bytes.Join(append(append([][]byte{}, lines[:k]...), lines[k+n:]...), nil)
		if len(data) == 0 {
			continue
		}
		rep := verifyOne(t, data, trust(priv))
		want := Missing
		if k+n == len(lines) && k > 0 {
			want = Truncated
		}
		if rep.State != want {
			t.Fatalf("deleting lines %d..%d: %v, want %v", k+1, k+n, rep, want)
		}
		if want == Truncated && !strings.Contains(rep.Detail, fmt.Sprintf("stops after seq %d", k)) {
			t.Fatalf("truncation detail %q", rep.Detail)
		}
		if want == Missing && k > 0 && rep.Line != k+1 {
			t.Fatalf("deleting lines %d..%d reported at line %d", k+1, k+n, rep.Line)
		}
	}
}

func TestSwaps(t *testing.T) {
	priv := fixedKey(1)
	lines := splitLines(record(t, priv, 50))
	rnd := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 1000; i++ {
		a, b := rnd.IntN(len(lines)), rnd.IntN(len(lines)-1)
		if b >= a {
			b++
		}
		sw := append([][]byte{}, lines...)
		sw[a], sw[b] = sw[b], sw[a]
		if rep := verifyOne(t, bytes.Join(sw, nil), trust(priv)); rep.State != Reordered {
			t.Fatalf("swapping lines %d and %d: %v", a+1, b+1, rep)
		}
	}
}

func TestDrops(t *testing.T) {
	priv := fixedKey(1)
	s := &sink{}
	r := newRecorder(t, s, "r1", priv)
	r.write("a", false, msg.Drop{})
	r.id += 5 // the limiter consumed ids 2..6
	r.write("b", false, msg.Drop{Messages: 5, Bytes: 5000})
	r.id++
	r.write("c", true, msg.Drop{Messages: 1, Bytes: 10})
	rep := verifyOne(t, s.buf.Bytes(), trust(priv))
	if rep.State != OK || rep.Dropped != (msg.Drop{Messages: 6, Bytes: 5010}) || rep.Messages != 3 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(rep.String(), "dropped 6 messages (5010 bytes)") {
		t.Fatal(rep.String())
	}
}

func TestMeta(t *testing.T) {
	priv := fixedKey(1)
	s := &sink{}
	r := newRecorder(t, s, "r1", priv)
	// A member named "vigil" inside meta must not confuse the verifier.
	if err := r.w.SetMeta(json.RawMessage(`{"x":1,"vigil":{"v":2,"seq":9}}`)); err != nil {
		t.Fatal(err)
	}
	r.write(`fake ,"vigil":{"v":2,"seq":1} in text`, false, msg.Drop{})
	if err := r.w.SetMeta(json.RawMessage(`{"exit":0}`)); err != nil {
		t.Fatal(err)
	}
	r.write("bye", true, msg.Drop{})
	rep := verifyOne(t, s.buf.Bytes(), trust(priv))
	if rep.State != OK || len(rep.Meta) != 2 || string(rep.Meta[1]) != `{"exit":0}` {
		t.Fatalf("%+v", rep)
	}
}

func TestUnsigned(t *testing.T) {
	if rep := verifyOne(t, record(t, nil, 10), nil); rep.State != Unsigned || !strings.Contains(rep.Detail, "without any signature") {
		t.Fatalf("unsigned chain: %v", rep)
	}
	var plain []byte
	for id := uint64(1); id <= 3; id++ {
		plain = append(plain, plainLine("r9", id, "x")...)
	}
	if rep := verifyOne(t, plain, nil); rep.State != Unsigned || rep.Messages != 3 || !strings.Contains(rep.Detail, "plain tlog") {
		t.Fatalf("plain tlog: %v", rep)
	}
	// A truncated unsigned chain is still reported as truncated.
	data := record(t, nil, 10)
	lines := splitLines(data)
	if rep := verifyOne(t, bytes.Join(lines[:9], nil), nil); rep.State != Truncated {
		t.Fatalf("truncated unsigned chain: %v", rep)
	}
}

func TestUnknownKey(t *testing.T) {
	data := record(t, fixedKey(1), 10)
	for _, trusted := range []keys.Set{nil, trust(fixedKey(2))} {
		rep := verifyOne(t, data, trusted)
		if rep.State != UnknownKey || rep.LastSignedSeq != 0 {
			t.Fatalf("%v", rep)
		}
	}
}

func TestStrippedSignatures(t *testing.T) {
	priv := fixedKey(1)
	lines := splitLines(record(t, priv, 10))
	last := lines[len(lines)-1]
	i := bytes.Index(last, []byte(`,"key":`))
	lines[len(lines)-1] = append(bytes.Clone(last[:i]), "}}\n"...)
	rep := verifyOne(t, bytes.Join(lines, nil), trust(priv))
	if rep.State != Modified || rep.Line != 10 {
		t.Fatalf("unsigned end of a signed recording: %v", rep)
	}
}

// Messages after the signed end: a plain line (unauthenticated until an
// anchor) and an anchor of a forged continuation.
func TestAppendAfterEnd(t *testing.T) {
	priv := fixedKey(1)
	s := &sink{}
	r := newRecorder(t, s, "r1", priv)
	r.write("a", true, msg.Drop{})
	end := s.buf.Bytes()
	s2 := &sink{}
	r2 := newRecorder(t, s2, "r1", nil)
	r2.write("a", false, msg.Drop{})
	r2.write("b", true, msg.Drop{})
	for name, extra := range map[string][]byte{
		"plain":  plainLine("r1", 2, "b"),
		"anchor": splitLines(s2.buf.Bytes())[1],
	} {
		rep := verifyOne(t, append(bytes.Clone(end), extra...), trust(priv))
		if rep.State != Modified || rep.Line != 2 {
			t.Errorf("%s: %v", name, rep)
		}
	}
}

func TestInterleaved(t *testing.T) {
	k1, k2 := fixedKey(1), fixedKey(2)
	s := &sink{}
	r1 := newRecorder(t, s, "r1", k1)
	r2 := newRecorder(t, s, "r2", k2)
	for i := 1; i <= 20; i++ {
		r1.write(fmt.Sprint("one ", i), i == 20, msg.Drop{})
		if i <= 15 {
			r2.write(fmt.Sprint("two ", i), i == 15, msg.Drop{})
		}
	}
	trusted := trust(k1)
	trusted.Add(k2.Public().(ed25519.PublicKey))
	reps, err := Recordings(bytes.NewReader(s.buf.Bytes()), trusted)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[0].Rec != "r1" || reps[1].Rec != "r2" || reps[0].State != OK || reps[1].State != OK ||
		reps[0].Messages != 20 || reps[1].Messages != 15 {
		t.Fatalf("%v", reps)
	}
	// Deleting a line of r2 does not affect r1.
	lines := splitLines(s.buf.Bytes())
	data := bytes.Join(append(append([][]byte{}, lines[:5]...), lines[6:]...), nil)
	reps, err = Recordings(bytes.NewReader(data), trusted)
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].State != OK || reps[1].State != Missing {
		t.Fatalf("%v", reps)
	}
}

func TestCanonical(t *testing.T) {
	priv := fixedKey(1)
	data := record(t, priv, 3)
	hashAt := bytes.Index(data, []byte(`"hash":"`)) + 8
	cases := map[string][]byte{
		"blank line":      append(bytes.Clone(data), '\n'),
		"upper-case hash": append(append(bytes.Clone(data[:hashAt]), bytes.ToUpper(data[hashAt:hashAt+64])...), data[hashAt+64:]...),
		"space after }":   bytes.Replace(data, []byte("}}\n"), []byte("}} \n"), 1),
		"CRLF":            bytes.Replace(data, []byte("}}\n"), []byte("}}\r\n"), 1),
		"anchor respaced": bytes.Replace(data, []byte(`,"vigil":{"v":2`), []byte(`,"vigil": {"v":2`), 1),
		"last respaced":   append(bytes.Clone(data[:bytes.LastIndex(data, []byte(`,"vigil":{"v":2`))]), append([]byte(`,"vigil": {"v":2`), data[bytes.LastIndex(data, []byte(`,"vigil":{"v":2`))+15:]...)...),
	}
	for name, d := range cases {
		if rep := verifyOne(t, d, trust(priv)); rep.State != Modified {
			t.Errorf("%s: %v", name, rep)
		}
	}
}

// An edit is reported at the first line its anchor covers, with that
// line's own id, not the anchor's.
func TestModifiedReportsTheLine(t *testing.T) {
	priv := fixedKey(1)
	lines := splitLines(record(t, priv, 50))
	if bytes.Contains(lines[1], []byte(`"hash":`)) {
		t.Fatal("line 2 is an anchor: the test needs a plain line")
	}
	lines[1] = bytes.Replace(lines[1], []byte("line 2 "), []byte("line X "), 1)
	rep := verifyOne(t, bytes.Join(lines, nil), trust(priv))
	if rep.State != Modified || rep.Line != 2 || rep.ID != 2 || rep.Seq != 2 || !strings.Contains(rep.String(), "MODIFIED at line 2 (id 2, seq 2)") {
		t.Fatalf("%v", rep)
	}
}

// A last line cut off mid-way (the writer crashed, the disk filled up) is
// a truncated recording, not a modified one; a cut line followed by more
// lines is an edit.
func TestTornLastLine(t *testing.T) {
	priv := fixedKey(1)
	data := record(t, priv, 20)
	lines := splitLines(data)
	for _, cut := range []int{1, 40, len(lines[19]) - 1} {
		rep := verifyOne(t, data[:len(data)-cut], trust(priv))
		if rep.State != Truncated || rep.Line != 20 || rep.Messages != 19 || !strings.Contains(rep.Detail, "the last line is cut off after") {
			t.Errorf("last line cut by %d bytes: %v", cut, rep)
		}
	}
	torn := bytes.Join(append([][]byte{lines[0], lines[1][:30]}, lines[2:]...), nil)
	if rep := verifyOne(t, torn, trust(priv)); rep.State != Modified {
		t.Errorf("a cut line before the end: %v", rep)
	}
	// A plain tlog recording (no integrity fields) with a cut last line.
	plain := append(plainLine("p", 1, "a"), plainLine("p", 2, "b")...)
	if rep := verifyOne(t, plain[:len(plain)-5], nil); rep.State != Truncated || rep.Line != 2 {
		t.Errorf("plain recording with a cut last line: %v", rep)
	}
}

func TestLongLine(t *testing.T) {
	_, err := Recordings(strings.NewReader(strings.Repeat("x", tlog.MaxLine+10)), nil)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("error %v", err)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{OK: "OK", Modified: "MODIFIED", Reordered: "REORDERED", Missing: "MISSING",
		Truncated: "TRUNCATED", UnknownKey: "UNKNOWN_KEY", Unsigned: "UNSIGNED", State(42): "State(42)"} {
		if s.String() != want {
			t.Errorf("%d: %s", int(s), s)
		}
	}
}

// TestLongSegments: with a signature only at the start and the end, most
// messages are plain lines between anchors; damage to them is still found
// and located.
func TestLongSegments(t *testing.T) {
	priv := fixedKey(1)
	s := &sink{}
	r := newRecorder(t, s, "r1", priv)
	r.w = chain.New(s, priv, time.Hour, func() time.Time { return r.clk })
	const a = chain.AnchorEvery
	const n = 2*a + 22
	for i := 1; i <= n; i++ {
		r.write(fmt.Sprintf("line %d\r\n", i), i == n, msg.Drop{})
	}
	lines := splitLines(s.buf.Bytes())
	anchors := 0
	for _, l := range lines {
		if bytes.Contains(l, []byte(chain.Marker)) {
			anchors++
		}
	}
	if anchors != 4 { // 1, 1+a, 1+2a and the end
		t.Fatalf("%d anchors in %d lines", anchors, n)
	}
	if rep := verifyOne(t, s.buf.Bytes(), trust(priv)); rep.State != OK || rep.Messages != n || rep.LastSignedSeq != n {
		t.Fatalf("%v", rep)
	}
	edit := func(k int, f func(l []byte) []byte) []byte {
		c := append([][]byte{}, lines...)
		c[k-1] = f(bytes.Clone(c[k-1]))
		return bytes.Join(c, nil)
	}
	rep := verifyOne(t, edit(30, func(l []byte) []byte { return bytes.Replace(l, []byte("line 30"), []byte("line 31"), 1) }), trust(priv))
	if rep.State != Modified || rep.Line != 2 || !strings.Contains(rep.Detail, fmt.Sprintf("messages 2 to %d", a+1)) {
		t.Fatalf("edit in line 30: %v", rep)
	}
	sw := append([][]byte{}, lines...)
	sw[9], sw[19] = sw[19], sw[9]
	if rep := verifyOne(t, bytes.Join(sw, nil), trust(priv)); rep.State != Reordered || rep.Line != 10 {
		t.Fatalf("swap of lines 10 and 20: %v", rep)
	}
	del := bytes.Join(append(append([][]byte{}, lines[:99]...), lines[100:]...), nil)
	if rep := verifyOne(t, del, trust(priv)); rep.State != Missing || rep.Line != 100 {
		t.Fatalf("line 100 deleted: %v", rep)
	}
	// Stripping the vigil object from an anchor breaks the next segment.
	strip := edit(1+a, func(l []byte) []byte { return append(l[:bytes.Index(l, []byte(chain.Marker))], "}\n"...) })
	if rep := verifyOne(t, strip, trust(priv)); rep.State != Modified {
		t.Fatalf("anchor at line %d stripped: %v", 1+a, rep)
	}
	// A cut inside a segment: the tail after the last anchor is reported.
	cut := bytes.Join(lines[:1+a+35], nil)
	if rep := verifyOne(t, cut, trust(priv)); rep.State != Truncated || !strings.Contains(rep.Detail, "the last 35 messages are not covered") {
		t.Fatalf("cut after line %d: %v", 1+a+35, rep)
	}
}

// An input that opens a recording per line is refused past MaxRecordings
// instead of growing without bound.
func TestTooManyRecordings(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i <= MaxRecordings; i++ {
		b.Write(plainLine(fmt.Sprint("r", i), 1, "x"))
	}
	_, err := Recordings(&b, nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d: more than", MaxRecordings+1)) {
		t.Fatalf("error %v", err)
	}
}

// Member names are matched exactly, as the player does: a line that carries
// "rec":"r1" and a trailing "Rec":"r2" belongs to r1 (it is played as r1),
// so lines forged that way make r1 fail instead of forming a harmless-
// looking plain recording r2.
func TestCaseFoldedNames(t *testing.T) {
	priv := fixedKey(1)
	data := record(t, priv, 10)
	for id := uint64(11); id <= 12; id++ {
		l := plainLine("r1", id, fmt.Sprint("forged ", id))
		data = append(data[:len(data):len(data)], append(l[:len(l)-2], fmt.Sprintf(`,"Rec":"r2","ID":%d}`+"\n", id-10)...)...)
	}
	reps, err := Recordings(bytes.NewReader(data), trust(priv))
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Rec != "r1" || reps[0].State != Modified {
		t.Fatalf("%v", reps)
	}
}

// Lines that are not JSON objects, or anchors without tlog fields.
func TestNotObjects(t *testing.T) {
	for _, l := range []string{"null\n", "[1]\n", `{,"vigil":{"v":2,"seq":1,"hash":"` + strings.Repeat("0", 64) + `"}}` + "\n"} {
		if _, err := new(lineParser).line([]byte(l)); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
}

// Gaps are classified in O(n log n): ids K+1, 1, K+2, 2, ... make K gaps
// over K present ids (quadratic before: ~30 s for this input).
func TestManyGaps(t *testing.T) {
	var b bytes.Buffer
	const k = 50000
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, "{\"rec\":\"a\",\"id\":%d}\n{\"rec\":\"a\",\"id\":%d}\n", k+i, i)
	}
	start := time.Now()
	reps, err := Recordings(&b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].State != Reordered {
		t.Errorf("%v", reps[0])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("%d lines took %v", 2*k, d)
	}
}

func TestReportCountsMessages(t *testing.T) {
	if s := (Report{Rec: "r", Messages: 1}).String(); !strings.HasSuffix(s, "; 1 message") {
		t.Errorf("%q", s)
	}
	if s := (Report{Rec: "r", Messages: 2}).String(); !strings.HasSuffix(s, "; 2 messages") {
		t.Errorf("%q", s)
	}
}

// A Verifier fed line by line reports, after each line, what Recordings
// reports of the input up to it: a recording still being written is
// TRUNCATED until its end arrives, then OK; an edit shows at once.
func TestVerifierIncremental(t *testing.T) {
	priv := fixedKey(1)
	data := record(t, priv, 20)
	lines := splitLines(data)
	lines[12] = bytes.Replace(lines[12], []byte("line 13"), []byte("line 31"), 1)
	v := NewVerifier(trust(priv))
	var prefix []byte
	for i, l := range lines {
		if err := v.Line(l); err != nil {
			t.Fatal(err)
		}
		prefix = append(prefix, l...)
		want, err := Recordings(bytes.NewReader(prefix), trust(priv))
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Reports(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after line %d:\n got %v\nwant %v", i+1, got, want)
		}
	}
	if got := v.Reports(); got[0].State != Modified {
		t.Fatalf("the edit at line 13 is not reported: %v", got)
	}
}
