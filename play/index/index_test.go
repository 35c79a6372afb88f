package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/screen"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// testRecording is a minute of full-screen program output: colours, cursor
// moves, a scroll region, the alternate screen, split escape sequences.
func testRecording(t *testing.T) string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(3, 4))
	var chunks []recgen.Chunk
	for i := range 3000 {
		var b []byte
		switch rnd.IntN(6) {
		case 0:
			b = fmt.Appendf(b, "\x1b[%d;%dH\x1b[3%dmcell %d\x1b[m", 1+rnd.IntN(24), 1+rnd.IntN(70), rnd.IntN(8), i)
		case 1:
			b = []byte("\x1b[?1049h\x1b[2;20r\x1b[Hvi")
		case 2:
			b = []byte("\x1b[r\x1b[?1049l")
		case 3:
			b = []byte("\x1b[1;4") // completed by the next chunk
		default:
			// Invisible padding: keyframes are as far apart as eight
			// times their repaints.
			b = fmt.Appendf(b, "m$ ls -l %d\r\n\x1b[0mtotal %d ✓\r\n%s", i, rnd.IntN(1000), strings.Repeat("\x1b[m", 100))
		}
		chunks = append(chunks, recgen.Chunk{T: time.Duration(i) * 20 * time.Millisecond, Data: b})
	}
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, recgen.Record("r", chunks), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// screenAt is the screen after the output before t, played from the start.
func screenAt(t *testing.T, path string, at time.Duration) *screen.Screen {
	t.Helper()
	r, err := reader.Open(path, reader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return replay(t, r, screen.New(80, 24), at)
}

// replay writes r's output before t to s.
func replay(t *testing.T, r *reader.Reader, s *screen.Screen, at time.Duration) *screen.Screen {
	t.Helper()
	for ev, err := range r.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.T >= at {
			break
		}
		switch ev.Kind {
		case tlog.KindWindow:
			s.Resize(ev.Cols, ev.Rows)
		case tlog.KindOut:
			s.Write(ev.Data)
		}
	}
	return s
}

// Going to any time through the index (repaint the keyframe before it,
// then the output from the keyframe on) gives the screen that playing
// from the start does.
func TestKeyframesRestoreScreen(t *testing.T) {
	path := testRecording(t)
	x, err := Build(context.Background(), path, Options{Every: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Keyframes) < 20 {
		t.Fatalf("%d keyframes, want many", len(x.Keyframes))
	}
	for i := 1; i < len(x.Keyframes); i++ {
		if k, prev := x.Keyframes[i], x.Keyframes[i-1]; k.T < prev.T || k.Pos.Offset <= prev.Pos.Offset {
			t.Fatalf("keyframe %d (%v at %d) does not follow keyframe %d (%v at %d)", i, k.T, k.Pos.Offset, i-1, prev.T, prev.Pos.Offset)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 1))
	for range 40 {
		at := time.Duration(rnd.Int64N(int64(61 * time.Second)))
		k := x.Before(at)
		if k.T >= at {
			t.Fatalf("keyframe at %v for %v", k.T, at)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(k.Pos.Offset, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		s := screen.New(80, 24) // the recording's size
		if k.T >= 0 && (k.Cols != 80 || k.Rows != 24) {
			t.Fatalf("keyframe at %v: %dx%d, want 80x24", k.T, k.Cols, k.Rows)
		}
		s.Write(k.Repaint)
		got := replay(t, reader.Resume(f, path, reader.Options{}, k.Pos), s, at).Repaint()
		f.Close()
		if want := screenAt(t, path, at).Repaint(); !bytes.Equal(got, want) {
			t.Fatalf("at %v (keyframe at %v): screen\n%q\nwant\n%q", at, k.T, got, want)
		}
	}
	if k := x.Before(0); k.T != -1 || k.Pos.Offset != 0 {
		t.Errorf("keyframe for 0 is %+v, want the start", k)
	}
}

// The index is cached beside the recording, used again while the file is
// unchanged, and built anew when it changed or the cached file is not
// trusted.
func TestCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	path := testRecording(t)
	builds := 0
	o := Options{Progress: func(done, total int64) {
		if done == total {
			builds++
		}
	}}
	open := func() *Index {
		t.Helper()
		x, err := Open(context.Background(), path, o, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	first := open()
	if _, err := os.Stat(path + Suffix); err != nil || builds != 1 {
		t.Fatalf("after the first Open: %v, %d builds", err, builds)
	}
	if second := open(); builds != 1 || len(second.Keyframes) != len(first.Keyframes) {
		t.Fatalf("the cached index was not used (%d builds)", builds)
	}
	// Untrusted: writable by others.
	if err := os.Chmod(path+Suffix, 0o666); err != nil {
		t.Fatal(err)
	}
	if open(); builds != 2 {
		t.Fatalf("an index writable by others was used")
	}
	// Changed recording (same size, other content at the end).
	b, _ := os.ReadFile(path)
	b[len(b)-3] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if open(); builds != 3 {
		t.Fatalf("the index of a changed recording was used")
	}
	// Other options.
	o.Reader.Lax = true
	if open(); builds != 4 {
		t.Fatalf("an index built with other options was used")
	}
	// Corrupt.
	b, _ = os.ReadFile(path + Suffix)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path+Suffix, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if open(); builds != 5 {
		t.Fatalf("a corrupt index was used")
	}
}

// Where the recording's directory is not writable, the index goes to the
// cache directory.
func TestCacheDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	path := testRecording(t)
	k, err := keyOf(path, Options{Every: DefaultEvery, EveryTime: DefaultEveryTime})
	if err != nil {
		t.Fatal(err)
	}
	places := cachePlaces(path, k)
	if len(places) != 2 || filepath.Dir(places[1]) != filepath.Join(cache, "vigil-play") {
		t.Fatalf("places %q", places)
	}
	x := &Index{Keyframes: []Keyframe{{T: -1}}}
	if err := save(places[1], k, x); err != nil {
		t.Fatal(err)
	}
	if got, err := Open(context.Background(), path, Options{}, nil); err != nil || len(got.Keyframes) != 1 {
		t.Fatalf("the index in the cache directory was not used: %v", err)
	}
	if fi, err := os.Stat(places[1]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cached index: %v %v, want mode 0600", fi.Mode(), err)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

// TestGolden holds the keyframes to those built when testdata/golden.txt
// was written (go test -run Golden -update): a change made for speed must
// not change an index.
func TestGolden(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 5))
	var chunks []recgen.Chunk
	for i := range 2000 {
		chunks = append(chunks, recgen.Chunk{T: time.Duration(i) * 10 * time.Millisecond, Data: recgen.Terminal(nil, rnd, 4096)})
	}
	term := filepath.Join(t.TempDir(), "term.jsonl")
	if err := os.WriteFile(term, recgen.Record("t", chunks), 0o600); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, c := range []struct {
		name string
		path string
		o    Options
	}{
		{"test", testRecording(t), Options{Every: 4 << 10}},
		{"test-time", testRecording(t), Options{EveryTime: time.Second}},
		{"terminal", term, Options{Every: 64 << 10}},
		{"terminal-default", term, Options{}},
	} {
		x, err := Build(context.Background(), c.path, c.o)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, k := range x.Keyframes {
			fmt.Fprintf(h, "%d %+v %d %d %q\n", k.T, k.Pos, k.Cols, k.Rows, k.Repaint)
		}
		fmt.Fprintf(&got, "%s %d %x\n", c.name, len(x.Keyframes), h.Sum(nil))
	}
	const path = "testdata/golden.txt"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("keyframes\n%s\nwant\n%s", got.Bytes(), want)
	}
}
