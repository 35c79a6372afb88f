package ship

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/devmode"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/collector/server"
	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/store/storetest"
	"github.com/vigil-rec/vigil/rec/tlog"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const host = "h1.example.com"

// collector is the real collector (play/collector/server on pgstore),
// watched: what it received, answered and was asked about.
type collector struct {
	t  *testing.T
	mu sync.Mutex
	h  http.Handler // server.New on the current database
	st *pgstore.Store

	sent      atomic.Int64 // bytes of non-empty bodies received
	conflicts atomic.Int64 // 409s replied
	acks      chan ack     // every Ack of a non-empty body, when not nil
	names     sync.Map     // recording file names asked about
}

type ack struct {
	file  string
	acked int64
	at    time.Time
}

func (c *collector) store() (http.Handler, *pgstore.Store) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.h, c.st
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, _ := c.store()
	file := r.URL.Query().Get("file")
	if r.URL.Path == fleetapi.PathAppend {
		c.names.Store(file, true)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Error(err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	if len(body) == 0 || r.URL.Path != fleetapi.PathAppend {
		return
	}
	c.sent.Add(int64(len(body)))
	switch rec.Code {
	case http.StatusConflict:
		c.conflicts.Add(1)
	case http.StatusOK:
		var a fleetapi.Ack
		if json.Unmarshal(rec.Body.Bytes(), &a) == nil && c.acks != nil {
			c.acks <- ack{file, a.Acked, time.Now()}
		}
	}
}

// fixture is a host (its key, recording directory, CA file) and a
// collector database with the host enrolled.
type fixture struct {
	t   *testing.T
	key ed25519.PrivateKey
	dir string
	ca  string // PEM file of the server certificate
	srv tls.Certificate
	c   *collector
}

func newFixture(t *testing.T) *fixture {
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, key: key, dir: t.TempDir(), c: &collector{t: t}}
	f.resetDB()
	f.srv, f.ca = serverCert(t)
	return f
}

// resetDB gives the collector an empty database, the host enrolled.
func (f *fixture) resetDB() {
	conn := pgtest.DB(f.t)
	ctx := testCtx(f.t)
	st, err := pgstore.Open(ctx, conn)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(st.Close)
	if err := st.AddHost(ctx, host); err != nil {
		f.t.Fatal(err)
	}
	if _, err := st.AddHostKey(ctx, host, f.key.Public().(ed25519.PublicKey)); err != nil {
		f.t.Fatal(err)
	}
	f.c.mu.Lock()
	f.c.st, f.c.h = st, server.New(st, slog.New(slog.NewTextHandler(f.t.Output(), nil)))
	f.c.mu.Unlock()
}

// serve serves the collector with TLS on l (nil: a new loopback port).
func (f *fixture) serve(l net.Listener) *httptest.Server {
	s := httptest.NewUnstartedServer(f.c)
	if l != nil {
		s.Listener.Close()
		s.Listener = l
	}
	s.TLS = fleetapi.ServerConfig(f.srv)
	s.StartTLS()
	f.t.Cleanup(s.Close)
	return s
}

func (f *fixture) shipper(url string) *Shipper {
	c, err := fleetapi.NewClient(f.ca, f.key, host)
	if err != nil {
		f.t.Fatal(err)
	}
	return New(Options{Dir: f.dir, Collector: url, Client: c, Poll: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(f.t.Output(), nil)), MaxBackoff: 500 * time.Millisecond})
}

// recording writes a signed recording into the directory and returns its
// name and bytes.
func (f *fixture) recording(rec string) (string, []byte) {
	path, err := storetest.Write(f.dir, storetest.Spec{Rec: rec, User: "alice", Host: host,
		Start: time.Now().Add(-time.Minute).Truncate(time.Millisecond), Duration: 30 * time.Second, Key: f.key})
	if err != nil {
		f.t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	return filepath.Base(path), data
}

// longRecording writes a signed recording of n lines into the directory,
// as the recorder does (storetest.Write's is a single line), and returns
// its name and bytes.
func (f *fixture) longRecording(rec string, n int) (string, []byte) {
	start := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	w, err := sink.OpenFile(f.dir+"/", store.Meta{Start: start, Host: host, User: "alice", Rec: rec})
	if err != nil {
		f.t.Fatal(err)
	}
	cw := chain.New(w, f.key, 0, func() time.Time { return start })
	e := tlog.NewEncoder(tlog.Meta{Host: host, Rec: rec, User: "alice", Term: "xterm", Session: 1, Start: start},
		tlog.Options{Payload: 2048, Output: true, Window: true}, cw)
	errs := []error{e.Window(0, 80, 24)}
	for i := range n - 1 {
		t := time.Duration(i) * time.Second
		errs = append(errs, e.Output(t, []byte("line "+strconv.Itoa(i)+"\r\n")), e.Flush(i%4 == 3))
	}
	errs = append(errs, e.Close(time.Duration(n)*time.Second), w.Close())
	if err := errors.Join(errs...); err != nil {
		f.t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		f.t.Fatal(err)
	}
	if len(lines(data)) < n {
		f.t.Fatalf("recording of %d lines, want %d", len(lines(data)), n)
	}
	return filepath.Base(w.Path()), data
}

// stored is what the collector holds of file.
func (f *fixture) stored(file string) []byte {
	_, st := f.c.store()
	var b bytes.Buffer
	if _, err := st.Read(testCtx(f.t), host, file, 0, &b); err != nil && !errors.Is(err, pgstore.ErrNotFound) {
		f.t.Fatal(err)
	}
	return b.Bytes()
}

// waitStored waits until the collector holds want of file.
func (f *fixture) waitStored(file string, want []byte, within time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for !bytes.Equal(f.stored(file), want) {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: the collector holds %d bytes after %v, want %d", file, len(f.stored(file)), within, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// run runs s in the background until the test ends or stop is called.
func run(t *testing.T, s *Shipper) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// serverCert is a certificate for 127.0.0.1 and the PEM file of its CA,
// the hosts' --ca.
func serverCert(t *testing.T) (tls.Certificate, string) {
	dir := t.TempDir()
	cert, err := devmode.Certificates(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cert, filepath.Join(dir, devmode.CAFile)
}

// A signed recording reads back from the collector byte for byte, and
// verifies there; a second Once sends nothing.
func TestOnce(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	name, data := f.recording("rec-1")
	name2, data2 := f.recording("rec-2")
	s := f.shipper(srv.URL)
	if err := s.Once(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]byte{name: data, name2: data2} {
		if got := f.stored(file); !bytes.Equal(got, want) {
			t.Errorf("%s: stored %d bytes, not the file's %d", file, len(got), len(want))
		}
		_, st := f.c.store()
		r, err := st.Recording(testCtx(t), host, file)
		if err != nil || r.State != "OK" {
			t.Errorf("%s: %+v, %v; want state OK", file, r, err)
		}
	}
	sent := f.c.sent.Load()
	if sent != int64(len(data)+len(data2)) {
		t.Errorf("%d bytes sent for %d", sent, len(data)+len(data2))
	}
	if err := f.shipper(srv.URL).Once(testCtx(t)); err != nil || f.c.sent.Load() != sent {
		t.Errorf("second Once: %v, %d bytes sent again", err, f.c.sent.Load()-sent)
	}
}

// lines splits data after each '\n'.
func lines(data []byte) [][]byte {
	ls := bytes.SplitAfter(data, []byte("\n"))
	return ls[:len(ls)-1] // after the last '\n': nothing
}

// Lines appended while the shipper runs reach the collector within 2 s; a
// torn last line is not sent until it is complete.
func TestFollow(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	// A recording written line by line, as the recorder does.
	name, data := f.longRecording("rec-1", 12)
	path := filepath.Join(f.dir, name)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f.c.acks = make(chan ack, 100)
	s := f.shipper(srv.URL)
	s.opt.Poll = 250 * time.Millisecond // the default
	run(t, s)
	ls := lines(data)
	if len(ls) < 3 {
		t.Fatalf("the recording has %d lines, the test wants 3 or more", len(ls))
	}
	var end int64
	var worst time.Duration
	wait := func(what string, end int64, from time.Time) time.Duration {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case a := <-f.c.acks:
				if a.acked == end {
					return a.at.Sub(from)
				}
				if a.acked > end {
					t.Fatalf("%s: %d bytes acknowledged, want %d", what, a.acked, end)
				}
			case <-timeout:
				t.Fatalf("%s: not acknowledged within 10 s", what)
			}
		}
	}
	for i, l := range ls[:len(ls)-1] {
		time.Sleep(100 * time.Millisecond) // lines come in apart
		at := time.Now()
		if _, err := w.Write(l); err != nil {
			t.Fatal(err)
		}
		end += int64(len(l))
		worst = max(worst, wait("line "+strconv.Itoa(i+1), end, at))
	}
	// The last line torn: nothing is sent of it.
	last := ls[len(ls)-1]
	if _, err := w.Write(last[:len(last)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if got := f.stored(name); !bytes.Equal(got, data[:end]) {
		t.Fatalf("with a torn last line: the collector holds %d bytes, want %d", len(got), end)
	}
	at := time.Now()
	if _, err := w.Write(last[len(last)/2:]); err != nil {
		t.Fatal(err)
	}
	worst = max(worst, wait("the completed line", int64(len(data)), at))
	t.Logf("latency: at most %v from a line written to its acknowledgement (%d lines)", worst, len(ls))
	if worst > 2*time.Second {
		t.Errorf("latency %v, more than 2 s", worst)
	}
	if got := f.stored(name); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, not the file's %d", len(got), len(data))
	}
}

// The collector down when the shipper starts: everything arrives once it
// is up.
func TestCollectorDown(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	name, data := f.recording("rec-1")
	s := f.shipper("https://" + addr)
	run(t, s)
	time.Sleep(time.Second) // some connections refused
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	f.serve(l)
	f.waitStored(name, data, 10*time.Second)
	name2, data2 := f.recording("rec-2")
	f.waitStored(name2, data2, 5*time.Second)
}

// A shipper restarted mid-way through a file resumes where the collector
// is: nothing is sent twice.
func TestRestart(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	name, data := f.longRecording("rec-1", 20)
	half := len(bytes.Join(lines(data)[:10], nil))
	path := filepath.Join(f.dir, name)
	if err := os.Truncate(path, int64(half)); err != nil {
		t.Fatal(err)
	}
	stop := run(t, f.shipper(srv.URL))
	f.waitStored(name, data[:half], 5*time.Second)
	stop()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	name2, data2 := f.recording("rec-2")
	run(t, f.shipper(srv.URL))
	f.waitStored(name, data, 5*time.Second)
	f.waitStored(name2, data2, 5*time.Second)
	if sent := f.c.sent.Load(); sent != int64(len(data)+len(data2)) {
		t.Errorf("%d bytes sent for %d: some twice", sent, len(data)+len(data2))
	}
}

// The collector's database reset under a running shipper: the 409 sends
// it back to the start, and the collector gets everything again.
func TestCollectorReset(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	name, data := f.longRecording("rec-1", 20)
	path := filepath.Join(f.dir, name)
	ls := lines(data)
	half := len(bytes.Join(ls[:len(ls)/2], nil))
	if err := os.Truncate(path, int64(half)); err != nil {
		t.Fatal(err)
	}
	run(t, f.shipper(srv.URL))
	f.waitStored(name, data[:half], 5*time.Second)
	f.resetDB()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	f.waitStored(name, data, 5*time.Second)
	if n := f.c.conflicts.Load(); n != 1 {
		t.Errorf("%d conflicts, want the one after the reset", n)
	}
}

// A file the collector refuses (a recording of another host) is reported
// by Once; the others are shipped all the same.
func TestRefused(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	path, err := storetest.Write(f.dir, storetest.Spec{Rec: "rec-x", User: "mallory", Host: "other.example.com",
		Start: time.Now().Add(-2 * time.Minute), Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	name, data := f.recording("rec-1")
	err = f.shipper(srv.URL).Once(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), filepath.Base(path)) || !strings.Contains(err.Error(), "another host") {
		t.Errorf("Once with another host's recording: %v", err)
	}
	if got := f.stored(name); !bytes.Equal(got, data) {
		t.Errorf("%s: stored %d bytes, not the file's %d", name, len(got), len(data))
	}
	if got := f.stored(filepath.Base(path)); len(got) != 0 {
		t.Errorf("another host's recording: %d bytes stored", len(got))
	}
}

// Only regular files named as recordings are shipped: not a symlink to
// one, nor a file named otherwise.
func TestOnlyRecordings(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	name, data := f.recording("rec-1")
	link := "20250101T000000Z-" + host + "-alice-link.jsonl"
	if err := os.Symlink(name, filepath.Join(f.dir, link)); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"notes.jsonl", name + ".tmp", "20250101T000000Z-x.json"} {
		if err := os.WriteFile(filepath.Join(f.dir, other), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.shipper(srv.URL).Once(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := f.stored(name); !bytes.Equal(got, data) {
		t.Errorf("%s: stored %d bytes, not the file's %d", name, len(got), len(data))
	}
	f.c.names.Range(func(k, _ any) bool {
		if k != name {
			t.Errorf("%s was sent", k)
		}
		return true
	})
}

// Enroll posts the host's key with the token, presenting the certificate
// of that key, to the real collector: the token works once, and the
// enrolled key is the one shipping then authenticates with.
func TestEnroll(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	_, st := f.c.store()
	ctx := testCtx(t)
	const newHost = "h2.example.com"
	token, err := st.NewEnrollToken(ctx, newHost, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	c, err := fleetapi.NewClient(f.ca, key, newHost)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := Enroll(ctx, c, srv.URL, newHost, token, pub)
	if err != nil || reply.Host != newHost || reply.KeyID != keys.ID(pub) {
		t.Fatalf("Enroll: %+v, %v", reply, err)
	}
	if h, id, err := st.HostByKey(ctx, pub); err != nil || h != newHost || id != keys.ID(pub) {
		t.Errorf("the enrolled key: host %q, id %q, %v", h, id, err)
	}
	if _, err := Enroll(ctx, c, srv.URL, newHost, token, pub); err == nil {
		t.Error("the token worked twice")
	}
}
