package pgstore

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/store/storetest"
	"github.com/vigil-rec/vigil/rec/verify"
)

const host = "h1.example.com"

// A recording appended in pieces reads back as the host's file, byte for
// byte, and is described as rec/store describes the file.
func TestAppendInPieces(t *testing.T) {
	s := open(t, pgtest.DB(t))
	key := newKey(t)
	enroll(t, s, host, pubOf(key))
	trusted := keys.Set{}
	trusted.Add(pubOf(key))
	rnd := rand.New(rand.NewPCG(1, 2))

	path, small := writeFile(t, storetest.Spec{Rec: "rec-small", User: "alice", Host: host,
		Start: time.Now().Add(-time.Hour).Truncate(time.Millisecond), Duration: 90 * time.Second, Key: key})
	bigFile, big := bigRecording(t, host, "rec-big", key, 300<<10)
	for _, c := range []struct {
		path, file string
		data       []byte
		maxLines   int
	}{
		{path, filepath.Base(path), small, 1},
		{"", bigFile, big, 20},
	} {
		ps := pieces(c.data, c.maxLines, rnd)
		appendAll(t, s, host, c.file, ps)
		if got := read(t, s, host, c.file); !bytes.Equal(got, c.data) {
			t.Fatalf("%s: read %d bytes, not the %d appended", c.file, len(got), len(c.data))
		}
		r := getRecording(t, s, host, c.file)
		if r.State != "OK" || r.Lines != int64(len(lines(c.data))) || r.Size != int64(len(c.data)) {
			t.Errorf("%s in %d pieces: state %s (%s), %d lines, %d bytes; want OK, %d lines, %d bytes",
				c.file, len(ps), r.State, r.Detail, r.Lines, r.Size, len(lines(c.data)), len(c.data))
		}
		want, err := store.Summarize(bytes.NewReader(c.data), c.file, int64(len(c.data)), trusted, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.path != "" {
			if want, err = store.Describe(c.path, trusted); err != nil {
				t.Fatal(err)
			}
			want[0].File = c.file
		}
		if len(want) != 1 || !sameSummary(r.Summary, want[0]) {
			t.Errorf("%s: summary\n%+v\nwant %+v", c.file, r.Summary, want)
		}
		if !bytes.Contains(r.Report, []byte(`"state":"OK"`)) || !bytes.Contains(r.Report, []byte(`"rec":"`+r.Rec+`"`)) {
			t.Errorf("%s: report %s", c.file, r.Report)
		}
	}
}

// A sender that resends what is stored, or sends at the wrong offset, is
// told the stored length; nothing is stored twice.
func TestAppendResend(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	enroll(t, s, host, nil)
	file, data := bigRecording(t, host, "rec-1", nil, 20<<10)
	ls := lines(data)
	half := len(bytes.Join(ls[:len(ls)/2], nil))

	// Nothing stored: a send past the start stores nothing.
	if acked, err := s.Append(ctx, host, file, 10, data[10:half]); err != nil || acked != 0 {
		t.Fatalf("append at 10 to a new recording: acked %d, %v; want 0", acked, err)
	}
	if _, err := s.Recording(ctx, host, file); !errors.Is(err, ErrNotFound) {
		t.Fatalf("recording after a refused append: %v, want ErrNotFound", err)
	}
	if acked, err := s.Append(ctx, host, file, 0, data[:half]); err != nil || acked != int64(half) {
		t.Fatalf("first append: acked %d, %v", acked, err)
	}
	for _, c := range []struct {
		name string
		off  int
		data []byte
	}{
		{"resend of the start", 0, data[:half]},
		{"resend of a part", 0, ls[0]},
		{"resend of the last line", half - len(ls[len(ls)/2-1]), ls[len(ls)/2-1]},
		{"offset past the end", half + len(ls[len(ls)/2]), data[half+len(ls[len(ls)/2]):]},
		{"empty data", half, nil},
		{"empty data elsewhere", 0, nil},
	} {
		acked, err := s.Append(ctx, host, file, int64(c.off), c.data)
		if err != nil || acked != int64(half) {
			t.Errorf("%s: acked %d, %v; want %d", c.name, acked, err, half)
		}
	}
	if got := read(t, s, host, file); !bytes.Equal(got, data[:half]) {
		t.Fatalf("after resends: %d bytes stored, want the %d first", len(got), half)
	}
	if r := getRecording(t, s, host, file); r.Lines != int64(len(ls)/2) {
		t.Errorf("after resends: %d lines, want %d", r.Lines, len(ls)/2)
	}
	if acked, err := s.Append(ctx, host, file, int64(half), data[half:]); err != nil || acked != int64(len(data)) {
		t.Fatalf("append of the rest: acked %d, %v; want %d", acked, err, len(data))
	}
	if got := read(t, s, host, file); !bytes.Equal(got, data) {
		t.Fatal("recording after resuming differs from the file")
	}
	if r := getRecording(t, s, host, file); r.State != "UNSIGNED" || r.Lines != int64(len(ls)) {
		t.Errorf("unsigned recording: state %s, %d lines; want UNSIGNED, %d", r.State, r.Lines, len(ls))
	}
}

// What Append refuses stores nothing.
func TestAppendRefused(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	enroll(t, s, host, nil)
	enroll(t, s, "h2.example.com", nil)
	_, other := writeFile(t, storetest.Spec{Rec: "rec-2", User: "bob", Host: "h2.example.com", Start: time.Now(), Duration: time.Second})
	file, data := bigRecording(t, host, "rec-1", nil, 10<<10)
	ls := lines(data)

	for _, c := range []struct {
		name       string
		host, file string
		off        int64
		data       []byte
		want       error
		text       string
	}{
		{"another host's recording", host, "x.jsonl", 0, other, ErrWrongHost, `"h2.example.com", not the sender "h1.example.com"`},
		{"a line naming another host", host, file, 0, append(bytes.Clone(ls[0]), other...), ErrWrongHost, "line 2"},
		// Read by the head-only scan: escaped, duplicated, empty.
		{"an escaped other host", host, file, 0, bytes.Replace(ls[0], []byte(`"host":"h1`), []byte(`"host":"\u0068\u0032`), 1), ErrWrongHost, `"h2.example.com"`},
		{"a second host member", host, file, 0, bytes.Replace(ls[0], []byte(`"host":"h1.example.com",`), []byte(`"host":"h1.example.com","host":"h2",`), 1), ErrWrongHost, `"h2"`},
		{"an empty host", host, file, 0, bytes.Replace(ls[0], []byte(`"host":"h1.example.com"`), []byte(`"host":""`), 1), ErrWrongHost, `"", not the sender`},
		{"a partial line", host, file, 0, data[:len(data)-1], ErrNotLines, ""},
		{"an unknown host", "h3.example.com", file, 0, nil, ErrUnknownHost, ""},
		{"a path", host, "../x.jsonl", 0, data, nil, "not a plain file name"},
		{"a NUL in the name", host, "x\x00.jsonl", 0, data, nil, "not valid UTF-8 text"},
		{"a negative offset", host, file, -1, data, nil, "negative offset"},
	} {
		acked, err := s.Append(ctx, c.host, c.file, c.off, c.data)
		if acked != 0 || err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("append of %s: acked %d, %v; want %v %q", c.name, acked, err, c.want, c.text)
		}
	}
	if recs, err := s.Recordings(ctx, Filter{}); err != nil || len(recs) != 0 {
		t.Errorf("recordings after refused appends: %d, %v", len(recs), err)
	}
	// Refused in the middle: what was stored stays, nothing is added.
	appendAll(t, s, host, file, [][]byte{ls[0]})
	off := int64(len(ls[0]))
	if acked, err := s.Append(ctx, host, file, off, other); !errors.Is(err, ErrWrongHost) || acked != 0 {
		t.Errorf("append of another host's lines: acked %d, %v", acked, err)
	}
	if got := read(t, s, host, file); !bytes.Equal(got, ls[0]) {
		t.Errorf("after a refused append: %q stored", got)
	}
	// A revoked host sends no more; what it sent stays readable.
	if err := s.RevokeHost(ctx, host); err != nil {
		t.Fatal(err)
	}
	if acked, err := s.Append(ctx, host, file, off, ls[1]); !errors.Is(err, ErrHostRevoked) || acked != 0 {
		t.Errorf("append by a revoked host: acked %d, %v", acked, err)
	}
	if got := read(t, s, host, file); !bytes.Equal(got, ls[0]) {
		t.Errorf("a revoked host's recording: %q", got)
	}
}

// The state is rec/verify's: an edited line is MODIFIED, a signature by a
// key not enrolled for the host UNKNOWN_KEY, until the key is enrolled.
func TestAppendVerifies(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	key, stranger := newKey(t), newKey(t)
	enroll(t, s, host, pubOf(key))
	spec := func(rec string, k ed25519.PrivateKey) storetest.Spec {
		return storetest.Spec{Rec: rec, User: "alice", Host: host, Start: time.Now().Add(-time.Minute), Duration: 5 * time.Second, Key: k}
	}
	_, good := writeFile(t, spec("rec-good", key))
	_, unknown := writeFile(t, spec("rec-unknown", stranger))
	_, unsigned := writeFile(t, spec("rec-unsigned", nil))
	tampered := bytes.Replace(good, []byte("logout"), []byte("logoff"), 1)
	if bytes.Equal(tampered, good) {
		t.Fatal("no output to tamper with")
	}
	want := map[string]string{}
	for _, c := range []struct {
		file  string
		data  []byte
		state verify.State
	}{
		{"good", good, verify.OK},
		{"tampered", tampered, verify.Modified},
		{"unknown", unknown, verify.UnknownKey},
		{"unsigned", unsigned, verify.Unsigned},
	} {
		appendAll(t, s, host, c.file, pieces(c.data, 2, rand.New(rand.NewPCG(3, 4))))
		reports, err := verify.Recordings(bytes.NewReader(c.data), keys.Set{keys.ID(pubOf(key)): pubOf(key)})
		if err != nil {
			t.Fatal(err)
		}
		if reports[0].State != c.state {
			t.Fatalf("%s: verify says %s, the test wants %s", c.file, reports[0].State, c.state)
		}
		want[c.file] = c.state.String()
		r := getRecording(t, s, host, c.file)
		if r.State != c.state.String() || r.Detail != reports[0].Detail && c.state != verify.OK {
			t.Errorf("%s: %s (%s), want %s (%s)", c.file, r.State, r.Detail, c.state, reports[0].Detail)
		}
		if got := read(t, s, host, c.file); !bytes.Equal(got, c.data) {
			t.Errorf("%s: stored bytes differ from the file's", c.file)
		}
	}

	// A key enrolled in the middle of a recording counts for all of it.
	_, later := bigRecording(t, host, "rec-later", stranger, 10<<10)
	ls := lines(later)
	appendAll(t, s, host, "later", [][]byte{ls[0]})
	if r := getRecording(t, s, host, "later"); r.State != "TRUNCATED" {
		t.Errorf("first line of a recording: %s, want TRUNCATED", r.State)
	}
	if _, err := s.AddHostKey(ctx, host, pubOf(stranger)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, host, "later", int64(len(ls[0])), bytes.Join(ls[1:], nil)); err != nil {
		t.Fatal(err)
	}
	if r := getRecording(t, s, host, "later"); r.State != "OK" {
		t.Errorf("recording signed by a key enrolled meanwhile: %s (%s), want OK", r.State, r.Detail)
	}
	// A revoked key is trusted no more for what comes, nor for what it
	// signed before: the recording under way is verified again without it
	// (this collector's verifier of it had the key).
	_, revoked := bigRecording(t, host, "rec-revoked", stranger, 10<<10)
	ls = lines(revoked)
	appendAll(t, s, host, "revoked", [][]byte{bytes.Join(ls[:len(ls)/2], nil)})
	if err := s.RevokeHostKey(ctx, host, keys.ID(pubOf(stranger))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, host, "revoked", int64(len(bytes.Join(ls[:len(ls)/2], nil))), bytes.Join(ls[len(ls)/2:], nil)); err != nil {
		t.Fatal(err)
	}
	if r := getRecording(t, s, host, "revoked"); r.State != "UNKNOWN_KEY" {
		t.Errorf("recording whose key was revoked while it was shipped: %s, want UNKNOWN_KEY", r.State)
	}
	appendAll(t, s, host, "after-revocation", [][]byte{unknown})
	if r := getRecording(t, s, host, "after-revocation"); r.State != "UNKNOWN_KEY" {
		t.Errorf("recording signed by a revoked key: %s, want UNKNOWN_KEY", r.State)
	}

	recs, err := s.Recordings(ctx, Filter{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if w, ok := want[r.File]; ok && r.State != w {
			t.Errorf("listing: %s is %s, want %s", r.File, r.State, w)
		}
	}
}

// Text PostgreSQL cannot hold (NUL, invalid UTF-8) in a recording's fields
// is stored all the same: the bytes as they are, the metadata cleaned.
func TestAppendOddText(t *testing.T) {
	s := open(t, pgtest.DB(t))
	enroll(t, s, host, nil)
	var b bytes.Buffer
	seq := func(yield func(recgen.Chunk) bool) { yield(recgen.Chunk{Data: []byte("\x00\xff hi\r\n")}) }
	if err := recgen.Write(&b, recgen.Meta{Rec: "rec\x00odd", User: "bad\xffuser", Host: host, Start: time.Now()}, seq); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, host, "odd", [][]byte{b.Bytes()})
	if got := read(t, s, host, "odd"); !bytes.Equal(got, b.Bytes()) {
		t.Error("stored bytes differ")
	}
	r := getRecording(t, s, host, "odd")
	if r.Rec != "rec\uFFFDodd" || r.User != "bad\uFFFDuser" {
		t.Errorf("rec %q, user %q", r.Rec, r.User)
	}
}

// Collectors sharing the database append to one recording in turn, or all
// at once: each sees what the others stored, and the recording is the
// file, verified as a whole.
func TestTwoCollectors(t *testing.T) {
	connString := pgtest.DB(t)
	a, b := open(t, connString), open(t, connString)
	key := newKey(t)
	enroll(t, a, host, pubOf(key))
	file, data := bigRecording(t, host, "rec-1", key, 100<<10)
	ps := pieces(data, 3, rand.New(rand.NewPCG(5, 6)))

	// In turn, and a third collector that starts late and rebuilds its
	// verifier from the stored bytes.
	var off int64
	for i, p := range ps {
		s := []*Store{a, b}[i%2]
		if i == len(ps)-1 {
			s = open(t, connString)
		}
		acked, err := s.Append(testCtx(t), host, file, off, p)
		if err != nil {
			t.Fatal(err)
		}
		if off += int64(len(p)); acked != off {
			t.Fatalf("piece %d: acked %d, want %d", i, acked, off)
		}
	}
	r := getRecording(t, a, host, file)
	if got := read(t, b, host, file); !bytes.Equal(got, data) || r.State != "OK" || r.Lines != int64(len(lines(data))) {
		t.Fatalf("appended in turn: equal %v, state %s (%s), %d lines", bytes.Equal(got, data), r.State, r.Detail, r.Lines)
	}

	// A sender that resends to a collector what another one stored after
	// it: the first collector's verifier stopped where it stored, and the
	// acknowledgement is where the recording ends.
	file3 := "rec-3.jsonl"
	half := int64(len(ps[0]))
	for i, p := range [][]byte{ps[0], ps[1], ps[1]} {
		acked, err := []*Store{a, b, a}[i].Append(testCtx(t), host, file3, half*int64(min(i, 1)), p)
		if want := half + int64(len(ps[1]))*int64(min(i, 1)); err != nil || acked != want {
			t.Fatalf("append %d of %s: acked %d, %v; want %d", i, file3, acked, err, want)
		}
	}
	if len(ps) < 3 {
		t.Fatal("want three pieces")
	}
	if acked, err := a.Append(testCtx(t), host, file3, half+int64(len(ps[1])), bytes.Join(ps[2:], nil)); err != nil || acked != int64(len(data)) {
		t.Fatalf("the rest of %s: acked %d, %v", file3, acked, err)
	}
	if r := getRecording(t, a, host, file3); !bytes.Equal(read(t, a, host, file3), data) || r.State != "OK" || r.Lines != int64(len(lines(data))) {
		t.Fatalf("resent to another collector: state %s (%s), %d lines", r.State, r.Detail, r.Lines)
	}

	// At once: four senders of the same file, two per collector, each
	// resuming where the acknowledgement says.
	file2 := "rec-2.jsonl"
	var wg sync.WaitGroup
	for i := range 4 {
		s := []*Store{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var off int64
			for off < int64(len(data)) {
				// At most 3 lines from off.
				end := off
				for n := 0; n < 3 && end < int64(len(data)); n++ {
					end += int64(bytes.IndexByte(data[end:], '\n') + 1)
				}
				acked, err := s.Append(testCtx(t), host, file2, off, data[off:end])
				if err != nil {
					t.Error(err)
					return
				}
				off = acked
			}
		}()
	}
	wg.Wait()
	r = getRecording(t, b, host, file2)
	if got := read(t, a, host, file2); !bytes.Equal(got, data) || r.State != "OK" || r.Lines != int64(len(lines(data))) {
		t.Fatalf("appended at once: equal %v, state %s (%s), %d lines", bytes.Equal(got, data), r.State, r.Detail, r.Lines)
	}
}

// sameSummary compares summaries, their times as instants.
func sameSummary(a, b store.Summary) bool {
	a.Start, a.End, b.Start, b.End = a.Start.UTC(), a.End.UTC(), b.Start.UTC(), b.End.UTC()
	return a == b
}
