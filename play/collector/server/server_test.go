package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/svctest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const host = "h1.example.com"

// collector is a collector on loopback over a fresh database.
type collector struct {
	t     *testing.T
	ctx   context.Context
	db    string // the database's connection string
	store *pgstore.Store
	srv   *httptest.Server
	log   *svctest.Buffer
}

func newCollector(t *testing.T) *collector {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	db := pgtest.DB(t)
	st, err := pgstore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	log := &svctest.Buffer{}
	srv := httptest.NewUnstartedServer(New(st, slog.New(slog.NewTextHandler(log, nil))))
	srv.TLS = fleetapi.ServerConfig(tls.Certificate{})
	srv.TLS.Certificates = nil // httptest's, which its Certificate gives the clients
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &collector{t: t, ctx: ctx, db: db, store: st, srv: srv, log: log}
}

// client is a host presenting key in its certificate.
// addHost enrolls host with key, straight in the store.
func (c *collector) addHost(t *testing.T, key ed25519.PrivateKey) {
	t.Helper()
	if err := c.store.AddHost(c.ctx, host); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.AddHostKey(c.ctx, host, pubOf(key)); err != nil {
		t.Fatal(err)
	}
}

func (c *collector) client(key ed25519.PrivateKey) *http.Client {
	c.t.Helper()
	cert, err := fleetapi.ClientCertificate(key, host)
	if err != nil {
		c.t.Fatal(err)
	}
	roots := c.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	tr := &http.Transport{TLSClientConfig: fleetapi.ClientConfig(roots, cert)}
	c.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// post sends body and decodes the JSON reply into v; it returns the status.
func (c *collector) post(hc *http.Client, path string, body io.Reader, v any) int {
	c.t.Helper()
	resp, err := hc.Post(c.srv.URL+path, "application/octet-stream", body)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		c.t.Fatalf("POST %s: %s: %v", path, resp.Status, err)
	}
	return resp.StatusCode
}

func (c *collector) enroll(hc *http.Client, e fleetapi.Enroll) (int, fleetapi.EnrollReply, fleetapi.Error) {
	c.t.Helper()
	body, _ := json.Marshal(e)
	var raw json.RawMessage
	code := c.post(hc, fleetapi.PathEnroll, bytes.NewReader(body), &raw)
	var r fleetapi.EnrollReply
	var fe fleetapi.Error
	if code == http.StatusOK {
		_ = json.Unmarshal(raw, &r)
	} else {
		_ = json.Unmarshal(raw, &fe)
	}
	return code, r, fe
}

// appendAt posts data at off to file and returns the status and the Ack
// or Error.
func (c *collector) appendAt(hc *http.Client, file string, off int64, data io.Reader) (int, fleetapi.Ack, fleetapi.Error) {
	c.t.Helper()
	q := url.Values{"file": {file}, "offset": {fmt.Sprint(off)}}
	var raw json.RawMessage
	code := c.post(hc, fleetapi.PathAppend+"?"+q.Encode(), data, &raw)
	var ack fleetapi.Ack
	var fe fleetapi.Error
	if code == http.StatusOK || code == http.StatusConflict {
		_ = json.Unmarshal(raw, &ack)
	} else {
		_ = json.Unmarshal(raw, &fe)
	}
	return code, ack, fe
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// recording makes a signed recording of recHost's, of many lines, and
// returns its file name and bytes.
func recording(t *testing.T, recHost string, key ed25519.PrivateKey) (string, []byte) {
	t.Helper()
	m := recgen.Meta{Rec: "rec-1", User: "alice", Host: recHost, Start: time.Now().Add(-time.Hour).Truncate(time.Millisecond), Key: key}
	out := recgen.Terminal(nil, rand.New(rand.NewPCG(1, 2)), 20<<10)
	var b bytes.Buffer
	if err := recgen.Write(&b, m, slices.Values(recgen.Split(out))); err != nil {
		t.Fatal(err)
	}
	return store.Meta{Start: m.Start, Host: m.Host, User: m.User, Rec: m.Rec}.Name(0), b.Bytes()
}

// A token enrolls the key of the certificate that presents it, once,
// before it expires.
func TestEnroll(t *testing.T) {
	c := newCollector(t)
	key := newKey(t)
	hc := c.client(key)
	token, err := c.store.NewEnrollToken(c.ctx, host, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e := fleetapi.Enroll{Host: host, Token: token, PublicKey: pubOf(key)}

	// Proof of possession: a key other than the certificate's is refused,
	// and the token stays unused.
	other := e
	other.PublicKey = pubOf(newKey(t))
	if code, _, fe := c.enroll(hc, other); code != http.StatusForbidden {
		t.Errorf("enroll of a key not the certificate's: %d %q, want 403", code, fe.Error)
	}
	wrong := e
	wrong.Token = strings.Repeat("0", len(token))
	if code, _, fe := c.enroll(hc, wrong); code != http.StatusForbidden {
		t.Errorf("enroll with a wrong token: %d %q, want 403", code, fe.Error)
	}
	code, r, fe := c.enroll(hc, e)
	if code != http.StatusOK || r != (fleetapi.EnrollReply{Host: host, KeyID: keys.ID(pubOf(key))}) {
		t.Fatalf("enroll: %d %+v %q", code, r, fe.Error)
	}
	if h, _, err := c.store.HostByKey(c.ctx, pubOf(key)); err != nil || h != host {
		t.Errorf("after enrolling, the key is of %q, %v", h, err)
	}
	key2 := newKey(t)
	again := e
	again.PublicKey = pubOf(key2)
	if code, _, fe := c.enroll(c.client(key2), again); code != http.StatusForbidden {
		t.Errorf("enroll with a used token: %d %q, want 403", code, fe.Error)
	}

	expired, err := c.store.NewEnrollToken(c.ctx, host, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	again.Token = expired
	if code, _, fe := c.enroll(c.client(key2), again); code != http.StatusForbidden {
		t.Errorf("enroll with an expired token: %d %q, want 403", code, fe.Error)
	}
	if !strings.Contains(c.log.String(), "host="+host) || !strings.Contains(c.log.String(), "key="+keys.ID(pubOf(key2))) {
		t.Errorf("the refusals' log names neither host nor key:\n%s", c.log)
	}
}

// A recording appended in pieces is stored byte for byte; a sender at the
// wrong offset is told where to resume.
func TestAppend(t *testing.T) {
	c := newCollector(t)
	key := newKey(t)
	hc := c.client(key)
	c.addHost(t, key)
	file, data := recording(t, host, key)
	var off int64
	pieces := 0
	for rest := data; len(rest) > 0; pieces++ {
		n := bytes.IndexByte(rest, '\n') + 1 // a line at a time
		code, ack, fe := c.appendAt(hc, file, off, bytes.NewReader(rest[:n]))
		off += int64(n)
		if code != http.StatusOK || ack.Acked != off {
			t.Fatalf("append of %d bytes: %d %+v %q, want 200 and %d", n, code, ack, fe.Error, off)
		}
		rest = rest[n:]
	}
	if pieces < 10 {
		t.Fatalf("the recording went in %d pieces", pieces)
	}
	var got bytes.Buffer
	if _, err := c.store.Read(c.ctx, host, file, 0, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back %d bytes, %v; want the %d sent", got.Len(), err, len(data))
	}
	if r, err := c.store.Recording(c.ctx, host, file); err != nil || r.State != "OK" {
		t.Errorf("recording: %+v, %v; want state OK", r, err)
	}

	end := int64(len(data))
	line := []byte(`{"ver":"2.3"}` + "\n")
	for _, off := range []int64{0, 5, end + 1} {
		if code, ack, fe := c.appendAt(hc, file, off, bytes.NewReader(line)); code != http.StatusConflict || ack.Acked != end {
			t.Errorf("append at %d of %d: %d %+v %q, want 409 and %d", off, end, code, ack, fe.Error, end)
		}
	}
	if code, ack, _ := c.appendAt(hc, file, 0, http.NoBody); code != http.StatusOK || ack.Acked != end {
		t.Errorf("empty append: %d %+v, want 200 and %d", code, ack, end)
	}

	for _, bad := range []struct {
		name, file, offset string
		data               []byte
	}{
		{"partial line", file, fmt.Sprint(end), line[:len(line)-1]},
		{"path", "../" + file, "0", line},
		{"name in a directory", "d/" + file, "0", line},
		{"not a recording's name", "passwd", "0", line},
		{"no name", "", "0", line},
		{"invalid UTF-8", "20250101T000000Z-h-u-\xff.jsonl", "0", line},
		{"NUL", "20250101T000000Z-h-u-\x00.jsonl", "0", line},
		{"long name", "20250101T000000Z-" + strings.Repeat("x", 240) + ".jsonl", "0", line},
		{"negative offset", file, "-1", line},
		{"no offset", file, "", line},
	} {
		q := url.Values{"file": {bad.file}, "offset": {bad.offset}}
		var fe fleetapi.Error
		if code := c.post(hc, fleetapi.PathAppend+"?"+q.Encode(), bytes.NewReader(bad.data), &fe); code != http.StatusBadRequest || fe.Error == "" {
			t.Errorf("%s: %d %q, want 400 and why", bad.name, code, fe.Error)
		}
	}
	for path, want := range map[string]int{fleetapi.PathAppend: http.StatusMethodNotAllowed, "/v1/nothing": http.StatusNotFound} {
		resp, err := hc.Get(c.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var fe fleetapi.Error
		err = json.NewDecoder(resp.Body).Decode(&fe)
		resp.Body.Close()
		if resp.StatusCode != want || err != nil || fe.Error == "" {
			t.Errorf("GET %s: %s, %q, %v; want %d and a fleetapi.Error", path, resp.Status, fe.Error, err, want)
		}
	}
	got.Reset()
	if _, err := c.store.Read(c.ctx, host, file, 0, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Errorf("after refused appends: read %d bytes, %v; want the %d sent", got.Len(), err, len(data))
	}
}

// zeros is an endless body that takes no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A body above fleetapi.MaxAppend is refused, whether its length is said
// or found out.
func TestAppendTooLarge(t *testing.T) {
	c := newCollector(t)
	key := newKey(t)
	hc := c.client(key)
	c.addHost(t, key)
	file, _ := recording(t, host, key)
	u := c.srv.URL + fleetapi.PathAppend + "?" + url.Values{"file": {file}, "offset": {"0"}}.Encode()
	for _, length := range []int64{fleetapi.MaxAppend + 1, -1} {
		req, err := http.NewRequest(http.MethodPost, u, io.LimitReader(zeros{}, fleetapi.MaxAppend+1))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("length %d: %v", length, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%d bytes, length %d: %s, want 413", fleetapi.MaxAppend+1, length, resp.Status)
		}
	}
}

// The collector knows a host by its certificate's key: an unknown or
// revoked key, a revoked host, and a recording naming another host are
// refused.
func TestAppendForbidden(t *testing.T) {
	c := newCollector(t)
	key, stranger := newKey(t), newKey(t)
	c.addHost(t, key)
	hc := c.client(key)
	file, data := recording(t, host, key)
	check := func(what string, hc *http.Client, file string, data []byte, logged string) {
		t.Helper()
		code, _, fe := c.appendAt(hc, file, 0, bytes.NewReader(data))
		if code != http.StatusForbidden || fe.Error == "" {
			t.Errorf("%s: %d %q, want 403 and why", what, code, fe.Error)
		}
		if !strings.Contains(c.log.String(), logged) {
			t.Errorf("%s: the log does not say %q:\n%s", what, logged, c.log)
		}
	}
	check("unknown key", c.client(stranger), file, data, "key="+keys.ID(pubOf(stranger)))
	otherFile, otherData := recording(t, "h2.example.com", key)
	check("recording of another host", hc, otherFile, otherData, "host="+host)
	// A key revoked while a recording is shipped with it: the collector
	// has appended with it, and refuses it from then on.
	first := bytes.IndexByte(data, '\n') + 1
	if code, ack, fe := c.appendAt(hc, file, 0, bytes.NewReader(data[:first])); code != http.StatusOK || ack.Acked != int64(first) {
		t.Fatalf("first line: %d %+v %q", code, ack, fe.Error)
	}
	if err := c.store.RevokeHostKey(c.ctx, host, keys.ID(pubOf(key))); err != nil {
		t.Fatal(err)
	}
	if code, _, fe := c.appendAt(hc, file, int64(first), bytes.NewReader(data[first:])); code != http.StatusForbidden || !strings.Contains(c.log.String(), "key revoked") {
		t.Errorf("append with a key revoked since the last: %d %q, want 403, logged", code, fe.Error)
	}
	var got bytes.Buffer
	if _, err := c.store.Read(c.ctx, host, file, 0, &got); err != nil || !bytes.Equal(got.Bytes(), data[:first]) {
		t.Errorf("after the revoked key's append: %d bytes stored, %v; want the first line's %d", got.Len(), err, first)
	}
	if _, err := c.store.AddHostKey(c.ctx, host, pubOf(stranger)); err != nil {
		t.Fatal(err)
	}
	file = "20250101T000000Z-" + host + "-alice-2.jsonl"
	if err := c.store.RevokeHost(c.ctx, host); err != nil {
		t.Fatal(err)
	}
	check("revoked host", c.client(stranger), file, data, "host revoked")
	got.Reset()
	for _, f := range []string{file, otherFile} {
		if _, err := c.store.Read(c.ctx, host, f, 0, &got); !errors.Is(err, pgstore.ErrNotFound) {
			t.Errorf("%s stored after refusals: %v", f, err)
		}
	}
}

// Serve shuts down when its context ends, letting requests finish.
func TestServe(t *testing.T) {
	serverKey := newKey(t)
	cert, err := fleetapi.ClientCertificate(serverKey, "collector") // any self-signed certificate will do here
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inHandler, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
		reply(w, http.StatusOK, fleetapi.Ack{Acked: 7})
	})
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, cert, h, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Minute) }()

	clientCert, err := fleetapi.ClientCertificate(newKey(t), host)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fleetapi.ClientConfig(nil, clientCert)
	cfg.InsecureSkipVerify = true // the certificate is not a server's; Serve's shutdown is what is tested
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	type result struct {
		ack fleetapi.Ack
		err error
	}
	res := make(chan result, 1)
	go func() {
		var r result
		resp, err := hc.Post("https://"+l.Addr().String()+fleetapi.PathAppend, "application/octet-stream", http.NoBody)
		if err == nil {
			r.err = json.NewDecoder(resp.Body).Decode(&r.ack)
			resp.Body.Close()
		} else {
			r.err = err
		}
		res <- r
	}()
	<-inHandler
	cancel()
	time.Sleep(50 * time.Millisecond) // the shutdown under way
	close(release)
	if r := <-res; r.err != nil || r.ack.Acked != 7 {
		t.Errorf("request during shutdown: %+v", r)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// slowBody writes its first part, then nothing until released.
type slowBody struct {
	first   []byte
	release chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	<-b.release
	return 0, io.EOF
}

// A host gets one append at a time, and its body must arrive in time: a
// host trickling bytes cannot hold the collector's append slots.
func TestAppendSlowHost(t *testing.T) {
	c := newCollector(t)
	c.srv.Config.Handler.(*Handler).bodyTime = 300 * time.Millisecond
	key := newKey(t)
	c.addHost(t, key)
	file, data := recording(t, host, key)
	release := make(chan struct{})
	defer close(release)
	slow := make(chan int, 1)
	hc := c.client(key)
	go func() {
		q := url.Values{"file": {file}, "offset": {"0"}}
		req, _ := http.NewRequest(http.MethodPost, c.srv.URL+fleetapi.PathAppend+"?"+q.Encode(),
			&slowBody{first: data[:10], release: release})
		req.ContentLength = int64(len(data))
		resp, err := hc.Do(req)
		if err != nil {
			slow <- -1 // cut off: as good as a refusal
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the slow one holds the host's turn
	if code, _, fe := c.appendAt(c.client(key), file, 0, bytes.NewReader(data)); code != http.StatusTooManyRequests {
		t.Errorf("a second append of the host at once: %d %q, want 429", code, fe.Error)
	}
	select {
	case code := <-slow:
		if code == http.StatusOK {
			t.Errorf("the trickled append: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the trickled append still holds its slot")
	}
	if code, ack, fe := c.appendAt(c.client(key), file, 0, bytes.NewReader(data)); code != http.StatusOK || ack.Acked != int64(len(data)) {
		t.Errorf("append after the slow one: %d %+v %q", code, ack, fe.Error)
	}
}
