package player

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/internal/recgen"
)

// benchSize is the size of the seeking benchmarks' recording.
const benchSize = 1 << 30

var (
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

// benchRecording returns a 1 GiB recording of escape-heavy output, 4 KiB
// every 10 ms (about 30 minutes), made once and kept in the temporary
// directory with its index for the next runs.
func benchRecording(b *testing.B) string {
	benchOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "vigil-play-bench")
		benchPath = filepath.Join(dir, "seek-1g.jsonl")
		if _, err := os.Stat(benchPath + ".done"); err == nil {
			return
		}
		if benchErr = os.MkdirAll(dir, 0o700); benchErr != nil {
			return
		}
		f, err := os.Create(benchPath)
		if err != nil {
			benchErr = err
			return
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<20)
		cw := &countWriter{w: w}
		rnd := rand.New(rand.NewPCG(9, 9))
		chunks := func(yield func(recgen.Chunk) bool) {
			for i := 0; cw.n < benchSize; i++ {
				if !yield(recgen.Chunk{T: time.Duration(i) * 10 * time.Millisecond, Data: recgen.Terminal(nil, rnd, 4096)}) {
					return
				}
			}
		}
		benchErr = recgen.Write(cw, recgen.Meta{Rec: "bench", User: "root", Host: "vm", Start: recgen.Start}, chunks)
		if benchErr == nil {
			benchErr = w.Flush()
		}
		if benchErr == nil {
			benchErr = os.WriteFile(benchPath+".done", nil, 0o600)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// errStop ends a benchmark's playback.
var errStop = errors.New("stop")

// keyWaiter types one key sequence at each wait, then stops the player:
// every wait after the first comes when a goto is done.
type keyWaiter struct {
	keys [][]byte
}

func (w *keyWaiter) Now() time.Time { return time.Now() }

func (w *keyWaiter) Wait(context.Context, time.Duration) ([]byte, error) {
	if len(w.keys) == 0 {
		return nil, errStop
	}
	k := w.keys[0]
	w.keys = w.keys[1:]
	return k, nil
}

// gotoKeys is n random "SECONDSG" gotos within the first dur.
func gotoKeys(n int, dur time.Duration) [][]byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%dG", rnd.Int64N(int64(dur/time.Second)))
	}
	return keys
}

// BenchmarkSeek1GB measures seeking in a 1 GiB recording: building its
// index, a goto in a new process (opening the file and the cached index),
// and gotos during playback, forwards and backwards at random. Output goes
// to io.Discard.
func BenchmarkSeek1GB(b *testing.B) {
	path := benchRecording(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	// The first seek in a recording: building the index and caching it
	// (about a minute).
	b.Run("index", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			if err := os.Remove(path + index.Suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				b.Fatal(err)
			}
			if _, err := index.Open(context.Background(), path, index.Options{}, func(err error) { b.Fatal(err) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	x, err := index.Open(context.Background(), path, index.Options{}, func(err error) { b.Fatal(err) })
	if err != nil {
		b.Fatal(err)
	}
	dur := x.Keyframes[len(x.Keyframes)-1].T
	b.Run("new-process", func(b *testing.B) {
		keys := gotoKeys(b.N, dur)
		for i := range b.N {
			src, err := OpenFile(path, index.Options{})
			if err != nil {
				b.Fatal(err)
			}
			t, _ := ParseTime(string(keys[i][:len(keys[i])-1]))
			err = New(src, &keyWaiter{}, io.Discard, Options{Goto: Target{T: t}}).Run(context.Background())
			src.Close()
			if !errors.Is(err, errStop) {
				b.Fatal(err)
			}
		}
	})
	b.Run("playing", func(b *testing.B) {
		src, err := OpenFile(path, index.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		w := &keyWaiter{keys: gotoKeys(b.N, dur)}
		p := New(src, w, io.Discard, Options{})
		b.ResetTimer()
		if err := p.Run(context.Background()); !errors.Is(err, errStop) {
			b.Fatal(err)
		}
	})
}
