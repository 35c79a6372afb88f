package nssdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// testResolver: "bob" and uid 1001 are recorded, "fail" errors, "huge"
// does not fit the protocol, "block" waits for release; the rest is not
// recorded.
type testResolver struct {
	calls   atomic.Int64
	release chan struct{}
}

var bob = Entry{Name: "bob", Passwd: "x", UID: 1001, GID: 100, Gecos: "Bob", Dir: "/home/bob", Shell: "/usr/bin/vigil-rec-session", Recorded: true}

func (r *testResolver) ByName(name string) (Entry, bool, error) {
	r.calls.Add(1)
	switch name {
	case "bob":
		return bob, true, nil
	case "fail":
		return Entry{}, false, errors.New("directory unreachable")
	case "huge":
		return Entry{Name: "huge", Gecos: strings.Repeat("g", maxPayload)}, true, nil
	case "block":
		<-r.release
	}
	return Entry{}, false, nil
}

func (r *testResolver) ByUID(uid uint32) (Entry, bool, error) {
	r.calls.Add(1)
	if uid == bob.UID {
		return bob, true, nil
	}
	return Entry{}, false, nil
}

// serve starts a server on a fresh socket and stops it at cleanup.
func serve(t testing.TB, r Resolver, idle time.Duration) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nss.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Resolver: r, Log: quiet, IdleTimeout: idle}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func dialRaw(t testing.TB, path string) *net.UnixConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UnixConn)
}

// readFrame reads one response frame; io.EOF when the server closed.
func readFrame(c net.Conn) (status byte, payload []byte, err error) {
	h := make([]byte, frameHeader)
	if _, err := io.ReadFull(c, h); err != nil {
		return 0, nil, err
	}
	if !bytes.Equal(h[:4], protoMagic) || h[5] != 0 {
		return 0, nil, fmt.Errorf("bad response header %q", h)
	}
	payload = make([]byte, binary.LittleEndian.Uint16(h[6:]))
	_, err = io.ReadFull(c, payload)
	return h[4], payload, err
}

// closedAfter reports whether the server closed c (EOF, or a reset because
// it left our unread bytes behind).
func closedAfter(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func nameReq(name string) []byte { return appendFrame(nil, opByName, []byte(name)) }

func TestServerClientRoundTrip(t *testing.T) {
	r := &testResolver{}
	path := serve(t, r, 0)
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 { // several pairs on one connection
		if e, ok, err := c.ByName("bob"); err != nil || !ok || e != bob {
			t.Fatalf("ByName(bob) = %+v, %v, %v", e, ok, err)
		}
		if e, ok, err := c.ByUID(1001); err != nil || !ok || e != bob {
			t.Fatalf("ByUID(1001) = %+v, %v, %v", e, ok, err)
		}
		if _, ok, err := c.ByName("alice"); err != nil || ok {
			t.Fatalf("ByName(alice) = %v, %v", ok, err)
		}
		if _, ok, err := c.ByUID(5); err != nil || ok {
			t.Fatalf("ByUID(5) = %v, %v", ok, err)
		}
	}
	// A failed lookup is an error for this request only.
	for _, name := range []string{"fail", "huge"} {
		if _, _, err := c.ByName(name); err == nil || !strings.Contains(err.Error(), `server error: "lookup failed"`) {
			t.Errorf("ByName(%s): %v", name, err)
		}
	}
	if _, ok, err := c.ByName("bob"); err != nil || !ok {
		t.Fatalf("after a failed lookup: %v, %v", ok, err)
	}
	for _, name := range []string{"", strings.Repeat("n", maxName+1), "a\x00b"} {
		if _, _, err := c.ByName(name); err == nil {
			t.Errorf("ByName(%q) sent", name)
		}
	}
	if got := r.calls.Load(); got != 15 {
		t.Errorf("resolver called %d times, want 15", got)
	}
	c.Close()
	if _, _, err := c.ByName("bob"); err == nil {
		t.Error("ByName after Close succeeded")
	}
}

func TestServerMalformed(t *testing.T) {
	path := serve(t, &testResolver{}, time.Second)
	uid := func(n int) []byte { return appendFrame(nil, opByUID, make([]byte, n)) }
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"garbage", []byte("GET / HTTP/1.0\r\n\r\n"), `bad magic "GET "`},
		{"op", appendFrame(nil, 9, []byte("x")), "unknown op 9"},
		{"byte 5", []byte("VGN1\x01\x01\x01\x00x"), "byte 5 is 1"},
		{"empty name", nameReq(""), "name length 0 outside 1..256"},
		{"oversized", append(nameReq(strings.Repeat("a", 300)), make([]byte, 70000)...), "name length 300"},
		{"uid length", uid(3), "uid length 3, want 4"},
		{"NUL", nameReq("bo\x00b"), "name contains NUL"},
		{"truncated header", []byte("VGN1\x01"), "truncated request"},
		{"truncated payload", nameReq("bob")[:10], "truncated request"},
		{"good then bad", append(nameReq("bob"), "VGN2\x01\x00\x01\x00x"...), `bad magic "VGN2"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := dialRaw(t, path)
			go func() {
				conn.Write(c.in) // may fail once the server has closed
				conn.CloseWrite()
			}()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			status, payload, err := readFrame(conn)
			if err == nil && status == statusRecorded {
				status, payload, err = readFrame(conn)
			}
			if err != nil || status != statusError || !strings.Contains(string(payload), c.want) {
				t.Fatalf("got status %d %q, %v; want status 2 with %q", status, payload, err, c.want)
			}
			if !closedAfter(conn) {
				t.Error("connection still open after a malformed request")
			}
		})
	}
}

func TestServerSlowClientsDoNotBlockOthers(t *testing.T) {
	const idle = 300 * time.Millisecond
	r := &testResolver{release: make(chan struct{})}
	defer close(r.release)
	path := serve(t, r, idle)

	connected := time.Now() // before any of them connects
	var stalled, silent []*net.UnixConn
	for range 10 {
		c := dialRaw(t, path)
		c.Write(nameReq("bob")[:5]) // half a request, then nothing
		stalled = append(stalled, c)
		silent = append(silent, dialRaw(t, path))
	}
	blocked := dialRaw(t, path)
	blocked.Write(nameReq("block")) // the resolver holds this one

	start := time.Now()
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 200 {
		if _, ok, err := c.ByName("bob"); err != nil || !ok {
			t.Fatalf("ByName(bob): %v, %v", ok, err)
		}
	}
	if d := time.Since(start); d > idle/2 {
		t.Errorf("200 lookups beside stalled clients took %v", d)
	}

	for _, s := range stalled {
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		status, payload, err := readFrame(s)
		if err != nil || status != statusError || !strings.Contains(string(payload), "request incomplete after 300ms") {
			t.Fatalf("stalled client: status %d %q, %v", status, payload, err)
		}
	}
	for _, s := range silent {
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := s.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("idle client: %v, want EOF without an answer", err)
		}
	}
	if d := time.Since(connected); d < idle {
		t.Errorf("idle clients closed after %v, before the %v timeout", d, idle)
	}
}

func TestServeReturnsOnClose(t *testing.T) {
	ln, err := Listen(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- (&Server{Resolver: &testResolver{}, Log: quiet, IdleTimeout: time.Hour}).Serve(ln) }()
	c, err := Dial(ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.ByName("bob"); err != nil {
		t.Fatal(err)
	}
	ln.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the listener closed")
	}
	if _, _, err := c.ByName("bob"); err == nil {
		t.Error("connection survived Serve")
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "nss.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket mode: %v, %v", fi, err)
	}
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
	// A socket left behind by a dead server is replaced.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()

	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
}

func TestCheckPeer(t *testing.T) {
	for _, c := range []struct {
		peer, self uint32
		ok         bool
	}{{0, 0, true}, {0, 1000, true}, {1000, 1000, true}, {1000, 0, false}, {1000, 1001, false}} {
		if err := checkPeer(c.peer, c.self); (err == nil) != c.ok {
			t.Errorf("checkPeer(%d, %d) = %v", c.peer, c.self, err)
		}
	}
}

// fakeServer answers one request per connection with the bytes resp.
func fakeServer(t *testing.T, resp []byte) string {
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var buf [frameHeader + maxName]byte
				if _, _, err := readRequest(c, &buf); err == nil {
					c.Write(resp)
				}
			}()
		}
	}()
	return path
}

func TestClientBadResponses(t *testing.T) {
	bobP, _ := appendEntry(nil, &bob)
	cases := []struct {
		name string
		resp []byte
		want string
	}{
		{"magic", []byte("HTTP/1.0 200"), `bad magic "HTTP"`},
		{"status", appendFrame(nil, 3, nil), "unknown status 3"},
		{"byte 5", []byte("VGN1\x01\x02\x00\x00"), "byte 5 is 2"},
		{"length", []byte("VGN1\x00\x00\xff\xff"), "length 65535"},
		{"status 1 payload", appendFrame(nil, statusNotRecorded, []byte("x")), "status 1 with a 1-byte payload"},
		{"short entry", appendFrame(nil, statusRecorded, []byte("abc")), "shorter than uid and gid"},
		{"unterminated", appendFrame(nil, statusRecorded, bobP[:len(bobP)-1]), "shell at offset"},
		{"trailing", appendFrame(nil, statusRecorded, append(bobP, 'x')), "1 bytes after the shell"},
		{"truncated", appendFrame(nil, statusRecorded, bobP)[:12], "response payload: unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := Dial(fakeServer(t, c.resp), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if _, _, err := cl.ByName("bob"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestClientTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mute.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := Dial(path, 100*time.Millisecond) // accepted by the kernel's backlog, never answered
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, _, err := c.ByName("bob"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

// fuzzResolver is deterministic so a model can predict every answer.
type fuzzResolver struct{}

func (fuzzResolver) ByName(name string) (Entry, bool, error) {
	switch {
	case name == "fail":
		return Entry{}, false, errors.New("fail")
	case name[0] == 'H':
		return Entry{Name: name, Gecos: strings.Repeat("g", maxPayload)}, true, nil
	case len(name)%2 == 0:
		return Entry{Name: name, Passwd: "x", UID: uint32(len(name)), Shell: "/rec"}, true, nil
	}
	return Entry{}, false, nil
}

func (fuzzResolver) ByUID(uid uint32) (Entry, bool, error) {
	if uid%2 == 0 {
		return Entry{Name: fmt.Sprintf("u%d", uid), UID: uid, Dir: "/"}, true, nil
	}
	return Entry{}, false, nil
}

// modelResponses predicts the frames for a request stream: answers up to
// the first malformed request, then one status-2 frame (its text is not
// predicted). ok=false means the stream ends with such a frame.
func modelResponses(in []byte) (frames []byte, ok bool) {
	var r fuzzResolver
	for len(in) > 0 {
		if len(in) < frameHeader || !bytes.Equal(in[:4], protoMagic) || in[5] != 0 {
			return frames, false
		}
		n := int(binary.LittleEndian.Uint16(in[6:]))
		op := in[4]
		if (op == opByName && (n < 1 || n > maxName)) || (op == opByUID && n != 4) || (op != opByName && op != opByUID) ||
			len(in) < frameHeader+n {
			return frames, false
		}
		key := in[frameHeader : frameHeader+n]
		in = in[frameHeader+n:]
		var (
			e   Entry
			rec bool
			err error
		)
		if op == opByName {
			if bytes.IndexByte(key, 0) >= 0 {
				return frames, false
			}
			e, rec, err = r.ByName(string(key))
		} else {
			e, rec, err = r.ByUID(binary.LittleEndian.Uint32(key))
		}
		var p []byte
		if err == nil && rec {
			p, err = appendEntry(nil, &e)
		}
		switch {
		case err != nil:
			frames = appendFrame(frames, statusError, []byte("lookup failed"))
		case rec:
			frames = appendFrame(frames, statusRecorded, p)
		default:
			frames = appendFrame(frames, statusNotRecorded, nil)
		}
	}
	return frames, true
}

func socketPair(t testing.TB) (*net.UnixConn, net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return conns[0].(*net.UnixConn), conns[1]
}

// FuzzServerRequest: whatever a client sends, the server answers exactly
// what the model predicts, ends a malformed stream with one status-2
// frame, closes, and never hangs.
func FuzzServerRequest(f *testing.F) {
	f.Add(nameReq("bob"))
	f.Add(append(nameReq("ab"), appendFrame(nil, opByUID, []byte{2, 0, 0, 0})...))
	f.Add(append(nameReq("fail"), nameReq("Hx")...))
	f.Add([]byte("VGN1\x01\x00\x2c\x01"))
	f.Add(nameReq("bob")[:9])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := socketPair(t)
		defer client.Close()
		srv := &Server{Resolver: fuzzResolver{}, Log: quiet, IdleTimeout: 5 * time.Second}
		done := make(chan struct{})
		go func() {
			srv.serveConn(server)
			close(done)
		}()
		go func() {
			client.Write(in)
			client.CloseWrite()
		}()
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(client)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("reading answers: %v", err)
		}
		<-done
		want, ok := modelResponses(in)
		if !bytes.HasPrefix(got, want) {
			t.Fatalf("answers\n%q\nwant prefix\n%q", got, want)
		}
		rest := got[len(want):]
		if ok {
			if len(rest) != 0 {
				t.Fatalf("extra answer %q", rest)
			}
			return
		}
		if len(rest) < frameHeader || !bytes.Equal(rest[:4], protoMagic) || rest[4] != statusError ||
			int(binary.LittleEndian.Uint16(rest[6:])) != len(rest)-frameHeader || len(rest) == frameHeader {
			t.Fatalf("malformed stream ended with %q, want one status-2 frame", rest)
		}
	})
}

type trivialResolver struct{}

func (trivialResolver) ByName(name string) (Entry, bool, error) {
	return Entry{Name: name, Passwd: "x", UID: 1000, GID: 1000, Dir: "/home/" + name, Shell: "/usr/bin/vigil-rec-session"}, true, nil
}

func (trivialResolver) ByUID(uid uint32) (Entry, bool, error) { return Entry{}, false, nil }

// BenchmarkSocketByName: decisions per second over one persistent
// connection, i.e. the cost of the socket itself.
func BenchmarkSocketByName(b *testing.B) {
	c, err := Dial(serve(b, trivialResolver{}, 0), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if _, ok, err := c.ByName("alice"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
