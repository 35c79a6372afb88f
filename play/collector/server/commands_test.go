package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/fleetapi"
)

// A host's command log is appended over HTTPS, refused when forged, and
// read back by a reader byte for byte; hosts cannot read it.
func TestCommandLogEndpoints(t *testing.T) {
	c := newCollector(t)
	hostKey, key, rkey := newKey(t), newKey(t), newKey(t)
	c.addHost(t, hostKey)
	// A second host, to send another's log, and a reader.
	if err := c.store.AddHost(c.ctx, "h2.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.AddHostKey(c.ctx, "h2.example.com", pubOf(key)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.AddReader(c.ctx, "alice", pubOf(rkey)); err != nil {
		t.Fatal(err)
	}
	reader := c.client(rkey)
	t0 := time.Now().UTC()
	dir := t.TempDir()
	w, err := commands.Create(dir, commands.Entry{Rec: "rec-1", Time: t0, Start: t0, Host: host, User: "alice"}, hostKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(commands.Entry{Kind: commands.KindExec, Time: t0, Cmd: &commands.Command{Argv: []string{"ls"}, OK: true}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	post := func(hc *http.Client, file string, off int, body []byte) int {
		q := url.Values{"file": {file}, "offset": {strconv.Itoa(off)}}
		var raw json.RawMessage
		return c.post(hc, fleetapi.PathCommands+"?"+q.Encode(), bytes.NewReader(body), &raw)
	}
	if code := post(c.client(key), "rec-1.jsonl", 0, data); code != http.StatusForbidden {
		t.Errorf("another host's log: %d, want 403", code)
	}
	if code := post(c.client(hostKey), "../x.jsonl", 0, data); code != http.StatusBadRequest {
		t.Errorf("bad name: %d, want 400", code)
	}
	if code := post(c.client(hostKey), "rec-1.jsonl", 0, bytes.Replace(data, []byte(`"ls"`), []byte(`"rm"`), 1)); code != http.StatusForbidden {
		t.Errorf("edited: %d, want 403", code)
	}
	if code := post(c.client(hostKey), "rec-1.jsonl", 0, data); code != http.StatusOK {
		t.Fatalf("append: %d", code)
	}
	if code := post(c.client(hostKey), "rec-1.jsonl", 0, data[:bytes.IndexByte(data, '\n')+1]); code != http.StatusConflict {
		t.Errorf("the first line again at 0: %d, want 409", code)
	}
	code, body := c.get(reader, c.srv.URL, fleetapi.PathCommandLog, url.Values{"host": {host}, "rec": {"rec-1"}})
	if code != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("read: %d %q", code, body)
	}
	if code, _ := c.get(reader, c.srv.URL, fleetapi.PathCommandLog, url.Values{"host": {host}, "rec": {"none"}}); code != http.StatusNotFound {
		t.Errorf("no log: %d, want 404", code)
	}
	if code, _ := c.get(c.client(hostKey), c.srv.URL, fleetapi.PathCommandLog, url.Values{"host": {host}, "rec": {"rec-1"}}); code != http.StatusForbidden {
		t.Errorf("a host read a log: %d, want 403", code)
	}
}
