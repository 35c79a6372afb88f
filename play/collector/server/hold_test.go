package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/fleetapi"
)

// serveLocal serves c's collector on a local socket until the test ends
// and returns a client of it.
func serveLocal(t *testing.T, c *collector) *http.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "read.sock")
	l, err := ListenLocal(path, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := New(c.store, slog.New(slog.NewTextHandler(c.log, nil)))
	go func() { done <- ServeLocal(ctx, l, h, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Minute) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeLocal: %v", err)
		}
	})
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

// postJSON POSTs req as JSON and returns the status and the body.
func (c *collector) postJSON(hc *http.Client, base, path string, req any) (int, string) {
	c.t.Helper()
	body, _ := json.Marshal(req)
	resp, err := hc.Post(base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// Root on the collector's host places and lifts holds over the local
// socket, in the name it gives and the kernel's; readers over HTTPS and
// other local users cannot.
func TestHolds(t *testing.T) {
	c, reader, file, _ := shipped(t)
	local := serveLocal(t, c)
	const base = "http://collector"
	req := fleetapi.HoldRequest{Host: host, File: file, Reason: "case 4711", By: "root (login carol)"}
	noReason := req
	noReason.Reason = " "
	for _, tc := range []struct {
		path string
		req  fleetapi.HoldRequest
		code int
		want string
	}{
		{fleetapi.PathHold, noReason, http.StatusBadRequest, "a hold needs a reason"},
		{fleetapi.PathHold, fleetapi.HoldRequest{Host: host, File: "../etc/passwd", Reason: "x"}, http.StatusBadRequest, "recording's file name"},
		{fleetapi.PathHold, fleetapi.HoldRequest{Host: host, File: strings.Replace(file, ".jsonl", "-x.jsonl", 1), Reason: "x"}, http.StatusNotFound, "no such recording"},
		{fleetapi.PathRelease, req, http.StatusConflict, "not held"},
		{fleetapi.PathHold, req, http.StatusOK, `"by":"root (login carol) via uid 0`},
		{fleetapi.PathHold, req, http.StatusConflict, "already held"},
	} {
		if code, body := c.postJSON(local, base, tc.path, tc.req); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s %+v: %d %s, want %d with %q", tc.path, tc.req, code, body, tc.code, tc.want)
		}
	}
	// Readers see the hold in the list.
	code, body := c.get(reader, c.srv.URL, fleetapi.PathRecordings, url.Values{"host": {host}})
	var recs []fleetapi.Recording
	if err := json.Unmarshal(body, &recs); code != http.StatusOK || err != nil || len(recs) != 1 || recs[0].Hold == nil ||
		recs[0].Hold.Reason != "case 4711" || !strings.HasPrefix(recs[0].Hold.By, "root (login carol) via uid 0") {
		t.Fatalf("recordings after the hold: %d %s", code, body)
	}
	// Nobody else: a reader over HTTPS, another local user.
	for _, path := range []string{fleetapi.PathHold, fleetapi.PathRelease} {
		if code, body := c.postJSON(reader, c.srv.URL, path, req); code != http.StatusForbidden {
			t.Errorf("a reader's POST %s: %d %s, want 403", path, code, body)
		}
		h := New(c.store, slog.New(slog.NewTextHandler(c.log, nil)))
		body, _ := json.Marshal(req)
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r = r.WithContext(context.WithValue(r.Context(), localPeer{}, &peer{name: "uid 1000 (alice) pid 7", uid: 1000}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("uid 1000's POST %s over the local socket: %d %s, want 403", path, w.Code, w.Body)
		}
	}
	if code, body := c.postJSON(local, base, fleetapi.PathRelease, fleetapi.HoldRequest{Host: host, File: file}); code != http.StatusOK || !strings.Contains(body, "case 4711") {
		t.Errorf("release: %d %s", code, body)
	}
	if code, body = c.get(reader, c.srv.URL, fleetapi.PathRecordings, url.Values{"host": {host}}); code != http.StatusOK || strings.Contains(string(body), "case 4711") {
		t.Errorf("recordings after the release: %d %s", code, body)
	}
	for _, want := range []string{`msg="hold placed"`, `msg="hold released"`, `peer="uid 1000 (alice) pid 7"`} {
		if !strings.Contains(c.log.String(), want) {
			t.Errorf("log without %s:\n%s", want, c.log)
		}
	}
}
