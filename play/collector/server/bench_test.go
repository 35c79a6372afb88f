package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/store"
)

// corpus is real text to show in benchmark sessions: the system's
// documentation, headers and shared files (those without NUL), up to max
// bytes, with \r\n.
func corpus(t testing.TB, max int) []byte {
	var b bytes.Buffer
	roots := []string{"/usr/share/doc", "/usr/include", "/usr/share"}
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || b.Len() >= max {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() || strings.HasSuffix(path, ".gz") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err == nil && bytes.IndexByte(data, 0) < 0 {
				b.Write(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))
			}
			return nil
		})
	}
	if b.Len() < 1<<20 {
		t.Skipf("only %d bytes of text to show", b.Len())
	}
	return b.Bytes()
}

// session is a recording of about size bytes: commands showing pieces of
// the corpus, and extra shown at a random point.
func session(t testing.TB, rnd *rand.Rand, text []byte, m recgen.Meta, size int, extra string) []byte {
	var chunks []recgen.Chunk
	at := rnd.IntN(size)
	for n, tm := 0, time.Duration(0); n < size; tm += time.Second {
		off := rnd.IntN(len(text) - 64<<10)
		piece := text[off : off+4<<10+rnd.IntN(60<<10)]
		out := append([]byte("$ less notes\r\n"), piece...)
		if n <= at && at < n+len(out) {
			out = append(out, extra...)
		}
		chunks = append(chunks, recgen.Chunk{T: tm, Data: out})
		n += len(out)
	}
	var b bytes.Buffer
	seq := func(yield func(recgen.Chunk) bool) {
		for _, c := range chunks {
			for _, s := range recgen.Split(c.Data) {
				s.T += c.T
				if !yield(s) {
					return
				}
			}
		}
	}
	if err := recgen.Write(&b, m, seq); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBenchSearch measures the collector's search over many stored
// recordings: VIGIL_BENCH_SEARCH=N:SIZE stores N recordings of SIZE bytes
// (e.g. 10000:1048576, 10 GB) from 10 hosts, then times searches through
// the read API: a text shown in one recording, a regular expression, and
// a common word. It reports the ingest rate and the database's size.
func TestBenchSearch(t *testing.T) {
	spec := os.Getenv("VIGIL_BENCH_SEARCH")
	if spec == "" {
		t.Skip("VIGIL_BENCH_SEARCH=N:SIZE not set")
	}
	nStr, sizeStr, _ := strings.Cut(spec, ":")
	n, err1 := strconv.Atoi(nStr)
	size, err2 := strconv.Atoi(sizeStr)
	if err1 != nil || err2 != nil || n < 1 || size < 64<<10 {
		t.Fatalf("VIGIL_BENCH_SEARCH=%q: want N:SIZE, SIZE at least 65536", spec)
	}
	c := newCollector(t)
	c.ctx = context.Background()
	st := c.store
	for h := range 10 {
		if err := st.AddHost(c.ctx, fmt.Sprintf("h%d.example.com", h)); err != nil {
			t.Fatal(err)
		}
	}
	text := corpus(t, 256<<20)
	// As a collector does: texts folded into the index every 5 s.
	foldCtx, stopFold := context.WithCancel(c.ctx)
	folding := make(chan struct{})
	go func() {
		st.FoldEvery(foldCtx, pgstore.FoldInterval, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		close(folding)
	}()
	const secret = "AKIAQX7Z2VIGILSECRET"
	start := time.Now()
	var stored atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range work {
				host := fmt.Sprintf("h%d.example.com", i%10)
				m := recgen.Meta{Rec: fmt.Sprintf("rec-%05d", i), User: fmt.Sprintf("user%d", i%50), Host: host,
					Start: recgen.Start.Add(time.Duration(i) * time.Minute)}
				extra := ""
				if i == n/2 {
					extra = "export AWS_ACCESS_KEY_ID=" + secret + "\r\n"
				}
				data := session(t, rnd, text, m, size, extra)
				file := store.Meta{Start: m.Start, Host: host, User: m.User, Rec: m.Rec}.Name(0)
				for off := 0; off < len(data); {
					end := min(off+1<<20, len(data))
					end = bytes.LastIndexByte(data[:end], '\n') + 1
					if end <= off {
						end = off + bytes.IndexByte(data[off:], '\n') + 1
					}
					if _, err := st.Append(c.ctx, host, file, int64(off), data[off:end]); err != nil {
						errs <- err
						return
					}
					off = end
				}
				stored.Add(int64(len(data)))
			}
		}()
	}
	for i := range n {
		select {
		case work <- i:
		case err := <-errs:
			t.Fatal(err)
		}
		if i%1000 == 999 {
			t.Logf("%d recordings, %.0f MB, %.1f MB/s", i+1, float64(stored.Load())/1e6, float64(stored.Load())/1e6/time.Since(start).Seconds())
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	elapsed := time.Since(start)
	stopFold()
	<-folding
	t0 := time.Now()
	left, err := st.FoldTexts(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("at the end of ingest, %d appends' texts were not folded yet; folding them took %.1f s", left, time.Since(t0).Seconds())
	conn, err := pgx.Connect(c.ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(c.ctx)
	var dbSize, textsSize int64
	if err := conn.QueryRow(c.ctx, "SELECT pg_database_size(current_database())").Scan(&dbSize); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(c.ctx, `SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits
		WHERE inhparent = 'texts'::regclass`).Scan(&textsSize); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d recordings, %.2f GB in %.0f s: %.1f MB/s; database %.2f GB (%.2f bytes per recorded byte), texts and their index %.2f GB",
		n, float64(stored.Load())/1e9, elapsed.Seconds(), float64(stored.Load())/1e6/elapsed.Seconds(),
		float64(dbSize)/1e9, float64(dbSize)/float64(stored.Load()), float64(textsSize)/1e9)
	if _, err := conn.Exec(c.ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}

	for range 3 {
		t0 := time.Now()
		recs, err := st.Candidates(c.ctx, pgstore.Filter{}, secret)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("index lookup of %s: %d of %d recordings in %.3f s", secret, len(recs), n, time.Since(t0).Seconds())
	}
	rkey := newKey(t)
	if _, err := st.AddReader(c.ctx, "bench", pubOf(rkey)); err != nil {
		t.Fatal(err)
	}
	hc := c.client(rkey)
	for _, q := range []url.Values{
		{"q": {secret}},
		{"q": {`AWS_ACCESS_KEY_ID=AKIA[0-9A-Z]{16}`}, "regex": {"1"}},
		{"q": {"AKIAQX7Z2VIGILSECRET"}, "host": {fmt.Sprintf("h%d.example.com", (n/2)%10)}},
		{"q": {"Copyright"}, "user": {"user7"}},
	} {
		for run := range 3 {
			t0 := time.Now()
			resp, err := hc.Get(c.srv.URL + fleetapi.PathSearch + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("search %v: %s %v", q, resp.Status, err)
			}
			hits := bytes.Count(body, []byte("\n"))
			if strings.Contains(q.Get("q"), "AKIA") && hits != 1 {
				t.Errorf("search %v: %d hits, want 1:\n%s", q, hits, body)
			}
			t.Logf("search %s (run %d): %d hits in %.3f s", q.Encode(), run+1, hits, d.Seconds())
		}
	}
}
