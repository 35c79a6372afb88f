package tests

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/play/collector/pgcluster"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/procstat"
	"github.com/vigil-rec/vigil/rec/ship"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// ackWatch is a host's transport to the collector that notes when each
// file's bytes were acknowledged.
type ackWatch struct {
	next http.RoundTripper
	mu   sync.Mutex
	acks map[string][]ackAt // by file
}

type ackAt struct {
	off int64
	at  time.Time
}

func (w *ackWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK || r.URL.Path != fleetapi.PathAppend {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var ack fleetapi.Ack
	if err == nil && json.Unmarshal(body, &ack) == nil {
		w.mu.Lock()
		f := r.URL.Query().Get("file")
		w.acks[f] = append(w.acks[f], ackAt{ack.Acked, time.Now()})
		w.mu.Unlock()
	}
	return resp, err
}

// written is a line's end in its file, and when it was written.
type written struct {
	file string
	off  int64
	at   time.Time
}

// benchHost writes one recording at rate bytes/s of terminal output (from
// text), flushed every tick in messages of up to payload bytes, until ctx
// ends, noting each line's end.
func benchHost(ctx context.Context, dir, host string, priv ed25519.PrivateKey, text []byte, rate, payload int, tick time.Duration, out *[]written) error {
	start := time.Now()
	meta := store.Meta{Start: start, Host: host, User: "alice", Rec: "bench"}
	f, err := sink.OpenFile(dir+"/", meta)
	if err != nil {
		return err
	}
	name := filepath.Base(f.Path())
	cw := chain.New(f, priv, 10*time.Second, time.Now)
	e := tlog.NewEncoder(tlog.Meta{Host: host, Rec: "bench", User: "alice", Term: "xterm", Session: 1, Start: start},
		tlog.Options{Payload: payload, Output: true, Window: true}, cw)
	per := rate * int(tick) / int(time.Second)
	off := len(host) * 7919 % (len(text) - per)
	err = e.Window(0, 80, 24)
	for t := time.NewTicker(tick); err == nil && ctx.Err() == nil; {
		select {
		case <-ctx.Done():
		case <-t.C:
			// Real text, a different part for each host and tick.
			off = (off + per) % (len(text) - per)
			buf := text[off : off+per]
			if err = e.Output(time.Since(start), buf); err == nil {
				err = e.Flush(false)
			}
			if err == nil {
				err = f.Flush() // as the recorder does at its latency
			}
			fi, serr := os.Stat(f.Path())
			if serr == nil {
				*out = append(*out, written{name, fi.Size(), time.Now()})
			}
		}
	}
	if err == nil {
		err = e.Close(time.Since(start))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// TestBenchFleet is issue 14's ingest figure: VIGIL_BENCH_FLEET=HOSTS:RATE
// (e.g. 200:102400, 20 MB/s) hosts each writing RATE bytes/s of output in
// a recording (messages of up to VIGIL_BENCH_PAYLOAD bytes, default 32768;
// vigil-rec's default is 2048), shipped by rec/ship to vigil-collector on
// PostgreSQL (fsync on) for VIGIL_BENCH_DURATION (default 60s), then,
// settle later, the collector stopped for VIGIL_BENCH_OUTAGE (default 30s)
// while they go on, then started. It reports the rate acknowledged and the
// latency from a line's write to its acknowledgement (searchable: texts are
// stored in the same transaction, indexed within seconds) of the lines of
// the duration, the collector's RSS, the database's bytes per recorded
// byte, and the catch-up time after the outage.
func TestBenchFleet(t *testing.T) {
	const settle = 15 * time.Second
	spec := os.Getenv("VIGIL_BENCH_FLEET")
	if spec == "" {
		t.Skip("VIGIL_BENCH_FLEET=HOSTS:RATE not set")
	}
	hs, rs, _ := strings.Cut(spec, ":")
	nHosts, err1 := strconv.Atoi(hs)
	rate, err2 := strconv.Atoi(rs)
	if err1 != nil || err2 != nil || nHosts < 1 || rate < 1000 {
		t.Fatalf("VIGIL_BENCH_FLEET=%q: want HOSTS:RATE", spec)
	}
	payload := 32 << 10
	if v := os.Getenv("VIGIL_BENCH_PAYLOAD"); v != "" {
		if payload, err1 = strconv.Atoi(v); err1 != nil || payload < tlog.MinPayload {
			t.Fatalf("VIGIL_BENCH_PAYLOAD=%q: want bytes, at least %d", v, tlog.MinPayload)
		}
	}
	dur := envDuration(t, "VIGIL_BENCH_DURATION", time.Minute)
	outage := envDuration(t, "VIGIL_BENCH_OUTAGE", 30*time.Second)

	dir := fleetDir(t)
	ctx := context.Background()
	pg, err := pgcluster.Start(ctx, filepath.Join(dir, "pg"), pgcluster.Options{})
	if err != nil {
		t.Skip(err)
	}
	defer pg.Stop()
	if err := pg.CreateDB(ctx, "vigil"); err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, pg.ConnString("vigil"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	collector, url, ca := startCollector(t, dir, pg.ConnString("vigil"))

	type host struct {
		name, dir string
		priv      ed25519.PrivateKey
		watch     *ackWatch
		lines     []written
		shipper   *ship.Shipper
	}
	// The simulated hosts' recordings go on tmpfs if it holds them with
	// half the available memory to spare: real hosts write them to their
	// own disks. Here, 20 MB/s of them in the page cache, written back all
	// at once when 30 s old, stalled the database's commits behind the
	// writeback for a second or more. A 10-minute outage's do not fit.
	hostsDir, where := dir, "on disk"
	need := int64(nHosts) * int64(rate) * 3 / 2 * int64((dur+settle+outage+dur/4)/time.Second) // tlog's JSON adds up to ~25%, the rest is margin
	if avail := memAvailable(); need > avail/2 {
		where = fmt.Sprintf("on disk (%d MB would not fit in tmpfs: %d MB of memory available)", need>>20, avail>>20)
	} else if d, err := os.MkdirTemp("/dev/shm", "vigil-fleet-hosts-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		hostsDir, where = d, "in tmpfs ("+d+")"
	}
	t.Logf("the simulated hosts' recordings are %s", where)
	hosts := make([]*host, nHosts)
	for i := range hosts {
		h := &host{name: fmt.Sprintf("h%03d.example.com", i), dir: filepath.Join(hostsDir, fmt.Sprint("h", i))}
		if err := os.Mkdir(h.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		priv, err := keys.Generate()
		if err != nil {
			t.Fatal(err)
		}
		h.priv = priv
		if err := st.AddHost(ctx, h.name); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddHostKey(ctx, h.name, priv.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
		hc, err := fleetapi.NewClient(ca, priv, h.name)
		if err != nil {
			t.Fatal(err)
		}
		h.watch = &ackWatch{next: hc.Transport, acks: map[string][]ackAt{}}
		hc.Transport = h.watch
		h.shipper = ship.New(ship.Options{Dir: h.dir, Collector: url, Client: hc})
		hosts[i] = h
	}

	text := benchText(t, 64<<20)
	shipCtx, stopShip := context.WithCancel(ctx)
	writeCtx, stopWrite := context.WithCancel(ctx)
	var shippers, writers sync.WaitGroup
	for _, h := range hosts {
		shippers.Add(1)
		writers.Add(1)
		go func() { defer shippers.Done(); h.shipper.Run(shipCtx) }()
		go func() {
			defer writers.Done()
			if err := benchHost(writeCtx, h.dir, h.name, h.priv, text, rate, payload, 250*time.Millisecond, &h.lines); err != nil {
				t.Error(err)
			}
		}()
	}
	began := time.Now()
	busy0, total0 := machineCPU()
	coll0, err := procstat.CPU(collector.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(dur)
	rss := processRSS(collector.cmd.Process.Pid)
	busy1, total1 := machineCPU()
	coll1, err := procstat.CPU(collector.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	collCPU := coll1 - coll0
	loadEnd := time.Now()
	// The lines written by loadEnd get the time a line takes at this load
	// (settle) before the outage: those still waiting then wait for it
	// too, as they would.
	time.Sleep(settle)
	// The outage: the hosts go on writing; the collector comes back.
	collector.kill(syscall.SIGTERM)
	time.Sleep(outage)
	back := time.Now()
	collector.start()
	time.Sleep(dur / 4)
	stopWrite()
	writers.Wait()
	// Wait until all is acknowledged.
	caughtUp := time.Time{}
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		done := true
		for _, h := range hosts {
			if len(h.lines) == 0 {
				continue
			}
			last := h.lines[len(h.lines)-1]
			fi, err := os.Stat(filepath.Join(h.dir, last.file))
			if err != nil || ackedBy(h.watch, last.file, fi.Size()).IsZero() {
				done = false
				break
			}
		}
		if done {
			caughtUp = time.Now()
			break
		}
	}
	stopShip()
	shippers.Wait()
	if caughtUp.IsZero() {
		t.Fatal("not caught up within 30 minutes")
	}

	// Rate and latency while the collector was up (before the outage),
	// also by the 10 s in which lines were written: a backlog growing
	// shows as rising latencies, a stall as one bad period.
	var lat []time.Duration
	periods := make([][]time.Duration, (dur+10*time.Second-1)/(10*time.Second))
	var acked int64
	appends := 0
	for _, h := range hosts {
		appends += appendsIn(h.watch, began, loadEnd)
		for _, w := range h.lines {
			if w.at.After(loadEnd) {
				break
			}
			if at := ackedBy(h.watch, w.file, w.off); !at.IsZero() {
				lat = append(lat, at.Sub(w.at))
				p := min(int(w.at.Sub(began)/(10*time.Second)), len(periods)-1)
				periods[p] = append(periods[p], at.Sub(w.at))
			}
		}
		acked += ackedAt(h.watch, loadEnd)
	}
	pctOf := func(lat []time.Duration, p float64) time.Duration {
		slices.Sort(lat)
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	pct := func(p float64) time.Duration { return pctOf(lat, p) }
	for i, p := range periods {
		if len(p) > 0 {
			t.Logf("lines written %3d–%3d s: p50 %.3f s, p99 %.3f s", i*10, i*10+10, pctOf(p, 0.5).Seconds(), pctOf(p, 0.99).Seconds())
		}
	}
	var stored, dbSize int64
	recs, err := st.Recordings(ctx, pgstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		stored += r.Size
	}
	conn, err := pgx.Connect(ctx, pg.ConnString("vigil"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&dbSize); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d hosts writing %d B/s each for %v: %.1f MB/s acknowledged", nHosts, rate, dur,
		float64(acked)/1e6/loadEnd.Sub(began).Seconds())
	t.Logf("%d appends acknowledged new bytes: %.0f per second, %.1f KB each", appends,
		float64(appends)/loadEnd.Sub(began).Seconds(), float64(acked)/1e3/float64(appends))
	t.Logf("line written → acknowledged and searchable: p50 %.3f s, p99 %.3f s, max %.3f s (%d lines)",
		pct(0.5).Seconds(), pct(0.99).Seconds(), lat[len(lat)-1].Seconds(), len(lat))
	// What the load cost, steadier from run to run than the latency on
	// a shared VM: a rate the machine does not keep up with shows as
	// latencies growing from period to period above.
	ackedMB := float64(acked) / 1e6
	cores := float64(runtime.NumCPU())
	t.Logf("machine busy %.0f%% of %d cores: %.3f core-seconds per MB acknowledged, the collector %.3f",
		100*float64(busy1-busy0)/float64(total1-total0), runtime.NumCPU(),
		cores*float64(busy1-busy0)/float64(total1-total0)*loadEnd.Sub(began).Seconds()/ackedMB, collCPU.Seconds()/ackedMB)
	t.Logf("collector RSS %.0f MB; database %.2f GB for %.2f GB of recordings: %.2f bytes per recorded byte",
		float64(rss)/1e6, float64(dbSize)/1e9, float64(stored)/1e9, float64(dbSize)/float64(stored))
	t.Logf("after a %v outage (%.0f MB written meanwhile) caught up %.1f s after the collector came back",
		outage, float64(nHosts*rate)*outage.Seconds()/1e6, caughtUp.Sub(back).Seconds())
}

// ackedBy is when the collector first acknowledged off bytes of file, zero
// if it did not.
func ackedBy(w *ackWatch, file string, off int64) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.acks[file] {
		if a.off >= off {
			return a.at
		}
	}
	return time.Time{}
}

// ackedAt is how many bytes of its files the collector had acknowledged
// to w's host by t.
func ackedAt(w *ackWatch, t time.Time) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, acks := range w.acks {
		var last int64
		for _, a := range acks {
			if !a.at.After(t) {
				last = max(last, a.off)
			}
		}
		n += last
	}
	return n
}

// appendsIn is how many of w's appends acknowledged new bytes between
// from and to.
func appendsIn(w *ackWatch, from, to time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, acks := range w.acks {
		var last int64
		for _, a := range acks {
			if a.off > last && a.at.After(from) && !a.at.After(to) {
				n++
			}
			last = max(last, a.off)
		}
	}
	return n
}

// benchText is real text for benchmark sessions: the system's C headers,
// up to max bytes, with \r\n line ends.
func benchText(t *testing.T, max int) []byte {
	var b bytes.Buffer
	filepath.WalkDir("/usr/include", func(path string, d fs.DirEntry, err error) error {
		if err != nil || b.Len() >= max {
			return filepath.SkipDir
		}
		if data, err := os.ReadFile(path); err == nil && d.Type().IsRegular() {
			b.Write(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))
		}
		return nil
	})
	if b.Len() < 4<<20 {
		t.Skipf("only %d bytes of text in /usr/include", b.Len())
	}
	return b.Bytes()
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// machineCPU is the busy and total time of the machine's CPUs, in
// jiffies, from /proc/stat.
func machineCPU() (busy, total int64) {
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// processRSS is pid's resident set in bytes, from /proc.
func processRSS(pid int) int64 {
	return procKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// memAvailable is the memory available to start new programs, in bytes.
func memAvailable() int64 { return procKB("/proc/meminfo", "MemAvailable:") }

// procKB reads the field name of a /proc file that counts kB, in bytes.
func procKB(file, name string) int64 {
	data, _ := os.ReadFile(file)
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, name); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
