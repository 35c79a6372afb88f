package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
)

// get GETs path?q with hc and returns the status and body.
func (c *collector) get(hc *http.Client, base, path string, q url.Values) (int, []byte) {
	c.t.Helper()
	resp, err := hc.Get(base + path + "?" + q.Encode())
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

// shipped is a collector holding one recording shipped by host, and a
// reader's client.
func shipped(t *testing.T) (c *collector, reader *http.Client, file string, data []byte) {
	c = newCollector(t)
	key := newKey(t)
	c.addHost(t, key)
	file, data = recording(t, host, key)
	if code, ack, fe := c.appendAt(c.client(key), file, 0, bytes.NewReader(data)); code != http.StatusOK {
		t.Fatalf("append: %d %+v %q", code, ack, fe.Error)
	}
	rkey := newKey(t)
	if _, err := c.store.AddReader(c.ctx, "alice", pubOf(rkey)); err != nil {
		t.Fatal(err)
	}
	return c, c.client(rkey), file, data
}

// A reader lists, reads from any offset, gets the host's keys and searches;
// each read is logged with the reader's name.
func TestRead(t *testing.T) {
	c, hc, file, data := shipped(t)
	base := c.srv.URL

	code, body := c.get(hc, base, fleetapi.PathRecordings, url.Values{"user": {"alice"}})
	var recs []fleetapi.Recording
	if err := json.Unmarshal(body, &recs); code != http.StatusOK || err != nil || len(recs) != 1 {
		t.Fatalf("recordings: %d %s %v", code, body, err)
	}
	r := recs[0]
	if r.Host != host || r.File != file || r.Rec != "rec-1" || r.User != "alice" || r.State != "OK" ||
		r.Size != int64(len(data)) || r.Start == nil || r.End == nil || r.End.Before(*r.Start) {
		t.Errorf("recording listed: %+v", r)
	}
	if code, body := c.get(hc, base, fleetapi.PathRecordings, url.Values{"user": {"bob"}}); code != http.StatusOK || string(body) != "[]\n" {
		t.Errorf("recordings of another user: %d %q, want []", code, body)
	}

	for _, off := range []int{0, 1, len(data) / 3, len(data)} {
		code, body := c.get(hc, base, fleetapi.PathRecording, url.Values{"host": {host}, "file": {file}, "offset": {strconv.Itoa(off)}})
		if code != http.StatusOK || !bytes.Equal(body, data[off:]) {
			t.Errorf("recording from %d: %d, %d bytes; want %d", off, code, len(body), len(data)-off)
		}
	}
	if code, _ := c.get(hc, base, fleetapi.PathRecording, url.Values{"host": {host}, "file": {"nope.jsonl"}}); code != http.StatusNotFound {
		t.Errorf("recording not there: %d, want 404", code)
	}
	if code, _ := c.get(hc, base, fleetapi.PathRecording, url.Values{"host": {host}, "file": {file}, "offset": {"-1"}}); code != http.StatusBadRequest {
		t.Errorf("negative offset: %d, want 400", code)
	}

	code, body = c.get(hc, base, fleetapi.PathKeys, url.Values{"host": {host}})
	var ks []fleetapi.Key
	if err := json.Unmarshal(body, &ks); code != http.StatusOK || err != nil || len(ks) != 1 || keys.ID(ks[0].PublicKey) != ks[0].ID {
		t.Errorf("keys: %d %s %v", code, body, err)
	}
	if code, _ := c.get(hc, base, fleetapi.PathKeys, url.Values{"host": {"other.example.com"}}); code != http.StatusNotFound {
		t.Errorf("keys of no host: %d, want 404", code)
	}

	// The collector's search finds what vigil-play search finds in the
	// host's file.
	all, err := search.Stream(bytes.NewReader(data), file, "", search.Options{Match: func(string) bool { return true }})
	if err != nil || len(all) < 10 {
		t.Fatalf("local search: %d hits, %v", len(all), err)
	}
	text := strings.TrimSpace(all[len(all)/2].Line)
	text = text[:min(len(text), 6)]
	match, _ := search.Compile(text, false)
	want, _ := search.Stream(bytes.NewReader(data), file, "", search.Options{Match: match})
	code, body = c.get(hc, base, fleetapi.PathSearch, url.Values{"q": {text}})
	var got []fleetapi.Hit
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var h fleetapi.Hit
		if err := dec.Decode(&h); err != nil {
			t.Fatalf("search reply: %v\n%s", err, body)
		}
		got = append(got, h)
	}
	var wantHits []fleetapi.Hit
	for _, h := range want {
		wantHits = append(wantHits, fleetapi.Hit{Host: host, File: file, Rec: h.Rec, Seconds: h.Sec, Source: h.Source, Line: h.Line})
	}
	if code != http.StatusOK || len(want) == 0 || !reflect.DeepEqual(got, wantHits) {
		t.Errorf("search %q: %d, %d hits %+v; want %d %+v", text, code, len(got), got, len(wantHits), wantHits)
	}
	if code, _ := c.get(hc, base, fleetapi.PathSearch, url.Values{"q": {"("}, "regex": {"1"}}); code != http.StatusBadRequest {
		t.Errorf("search with a bad regex: %d, want 400", code)
	}
	if !strings.Contains(c.log.String(), `msg=read reader="reader alice"`) {
		t.Errorf("reads not logged with the reader:\n%s", c.log)
	}
}

// Only readers read: not hosts, not unknown or revoked keys, and only GET.
func TestReadForbidden(t *testing.T) {
	c, hc, file, _ := shipped(t)
	base := c.srv.URL
	q := url.Values{"host": {host}, "file": {file}}
	hostKey := newKey(t)
	if _, err := c.store.AddHostKey(c.ctx, host, pubOf(hostKey)); err != nil {
		t.Fatal(err)
	}
	for name, other := range map[string]*http.Client{"a host": c.client(hostKey), "an unknown key": c.client(newKey(t))} {
		for _, path := range []string{fleetapi.PathRecordings, fleetapi.PathRecording, fleetapi.PathKeys, fleetapi.PathSearch} {
			if code, body := c.get(other, base, path, q); code != http.StatusForbidden {
				t.Errorf("%s GET %s: %d %s, want 403", name, path, code, body)
			}
		}
	}
	resp, err := hc.Post(base+fleetapi.PathRecordings, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
		t.Errorf("POST %s: %s, Allow %q", fleetapi.PathRecordings, resp.Status, resp.Header.Get("Allow"))
	}
	if err := c.store.RevokeReader(c.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.get(hc, base, fleetapi.PathRecordings, nil); code != http.StatusForbidden {
		t.Errorf("a revoked reader: %d, want 403", code)
	}
}

// The local socket is made 0600, or 0660 for a group (a stale socket
// replaced, another file not, never in a directory others write), serves the reads to whoever can open it, logged with their uid,
// and never takes appends.
func TestLocalSocket(t *testing.T) {
	c, _, file, data := shipped(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "read.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := ListenLocal(path, ""); err == nil {
		l.Close()
		t.Fatal("ListenLocal over a regular file: no error")
	}
	os.Remove(path)
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	l, err := ListenLocal(path, "")
	if err != nil {
		t.Fatalf("ListenLocal over a stale socket: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode without a group: %v %v, want 0600", fi.Mode(), err)
	}
	// With a group, for its members; never in a directory others write.
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	grouped := filepath.Join(dir, "grouped.sock")
	if gl, err := ListenLocal(grouped, g.Name); err != nil {
		t.Errorf("ListenLocal with group %s: %v", g.Name, err)
	} else {
		if fi, err := os.Stat(grouped); err != nil || fi.Mode().Perm() != 0o660 {
			t.Errorf("socket mode with a group: %v %v, want 0660", fi.Mode(), err)
		}
		gl.Close()
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil || os.Chmod(open, 0o1777) != nil {
		t.Fatal(err)
	}
	if ol, err := ListenLocal(filepath.Join(open, "read.sock"), ""); err == nil {
		ol.Close()
		t.Error("ListenLocal in a directory others can write: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := New(c.store, slog.New(slog.NewTextHandler(c.log, nil)))
	go func() { done <- ServeLocal(ctx, l, h, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Minute) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeLocal: %v", err)
		}
	}()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	code, body := c.get(hc, "http://collector", fleetapi.PathRecording, url.Values{"host": {host}, "file": {file}})
	if code != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("recording over the local socket: %d, %d bytes", code, len(body))
	}
	if !strings.Contains(c.log.String(), `reader="uid `+strconv.Itoa(os.Getuid())) {
		t.Errorf("the local read is not logged with the uid:\n%s", c.log)
	}
	resp, err := hc.Post("http://collector"+fleetapi.PathAppend+"?"+url.Values{"file": {file}, "offset": {"0"}}.Encode(),
		"application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("append over the local socket: %s, want 403", resp.Status)
	}
}

// tlogLine is a message of recording rec on host showing out.
func tlogLine(rec string, id int, out string) string {
	return fmt.Sprintf(`{"ver":"2.3","host":%q,"rec":%q,"user":"alice","term":"xterm","session":1,"id":%d,"pos":%d,`+
		`"timing":"=80x24>%d","in_txt":"","in_bin":[],"out_txt":%q,"out_bin":[]}`+"\n", host, rec, id, id*10, len(out), out)
}

// One recording that cannot be searched to its end does not stop the
// search of the others; it is reported, its hits before stand; each
// recording of a file holding several is searched.
func TestSearchGoesOn(t *testing.T) {
	c, hc, _, _ := shipped(t)
	hostKey := newKey(t)
	if _, err := c.store.AddHostKey(c.ctx, host, pubOf(hostKey)); err != nil {
		t.Fatal(err)
	}
	for file, data := range map[string]string{
		"20260101T000000Z-h1-alice-broken.jsonl":  tlogLine("b", 1, "needle in broken\r\n") + "{not json\n",
		"20260101T000001Z-h1-alice-several.jsonl": tlogLine("x", 1, "needle in x\r\n") + tlogLine("y", 1, "needle in y\r\n"),
	} {
		if code, ack, fe := c.appendAt(c.client(hostKey), file, 0, strings.NewReader(data)); code != http.StatusOK {
			t.Fatalf("append %s: %d %+v %q", file, code, ack, fe.Error)
		}
	}
	code, body := c.get(hc, c.srv.URL, fleetapi.PathSearch, url.Values{"q": {"needle in"}})
	var lines, errs []string
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var h fleetapi.Hit
		if err := dec.Decode(&h); err != nil {
			t.Fatal(err)
		}
		if h.Error != "" {
			errs = append(errs, h.File+": "+h.Error)
		} else {
			lines = append(lines, h.File+": "+h.Line)
		}
	}
	slices.Sort(lines)
	const broken, several = "20260101T000000Z-h1-alice-broken.jsonl", "20260101T000001Z-h1-alice-several.jsonl"
	want := []string{broken + ": needle in broken", several + ": needle in x", several + ": needle in y"}
	if code != http.StatusOK || !reflect.DeepEqual(lines, want) || len(errs) != 1 || !strings.HasPrefix(errs[0], broken+": ") {
		t.Errorf("search: %d\nhits %q\nwant %q\nerrors %q", code, lines, want, errs)
	}

	// A recording with more hits than the collector holds at once: those
	// up to the bound, then an error line saying so.
	const two = "20260101T000002Z-h1-alice-two.jsonl"
	if code, ack, fe := c.appendAt(c.client(hostKey), two, 0, strings.NewReader(tlogLine("z", 1, "needle in z1\r\nneedle in z2\r\n"))); code != http.StatusOK {
		t.Fatalf("append %s: %d %+v %q", two, code, ack, fe.Error)
	}
	c.srv.Config.Handler.(*Handler).maxHits = 1
	code, body = c.get(hc, c.srv.URL, fleetapi.PathSearch, url.Values{"q": {"needle in z"}})
	if code != http.StatusOK || bytes.Count(body, []byte(`"line":"needle in z`)) != 1 || !bytes.Contains(body, []byte("more than 1 in this recording")) {
		t.Errorf("search of a recording with two hits, one allowed: %d\n%s", code, body)
	}
}
