package tests

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Issue 15's figures for the Cockpit page (VIGIL_BENCH=1): the first
// screen of the list with 10,000 recordings, with the list cache cold and
// warm (and when the whole list is there), and opening a large recording
// at a search hit, with its seeking index not built yet and built.
// Targets: 1 s each.
//
//	cd tests && VIGIL_BENCH=1 go test -count=1 -v -run '^TestBenchCockpit$' . | grep -E '^ +(list|search|open)'
func TestBenchCockpit(t *testing.T) {
	if os.Getenv("VIGIL_BENCH") == "" {
		t.Skip("a benchmark: VIGIL_BENCH=1")
	}
	if !svctest.InNamespace(t) {
		return
	}
	h := newCockpitHost(t)
	// A host's week: 9,999 signed sessions of alice, a minute apart and
	// each named by its start as the recorder names it, then one real
	// recording and a large one. The whole list reads and verifies each;
	// the first screen finds the newest from their names.
	priv, err := keys.LoadPrivate("/etc/vigil/keys/signing.key")
	if err != nil {
		t.Fatal(err)
	}
	writeWeek(t, "/var/log/vigil", 9999, priv)
	record(t, aliceUID, `for i in $(seq 1 30); do echo "line $i of a small session"; done`)
	// bob's 1 GB session: random base64 lines (as `base64 /dev/urandom`
	// shows them) with a marker in the middle.
	big := writeLarge(t, "/var/log/vigil", 1<<30, priv)
	if fi, err := os.Stat(big); err == nil {
		t.Logf("large recording: %d MB", fi.Size()>>20)
	}

	b := newBrowser(t, h, "carol", true)
	// The first screen comes from list's newest rows, then the whole list
	// (which verifies every file not in the cache, and writes root's
	// cache): each run waits for all of it. Cold twice: at the page's
	// first load in this browser, which includes Cockpit's (the page's
	// files, its package), and with the page loaded before and the list
	// cache removed.
	for _, run := range []struct{ cache, page string }{{"cold", "first load"}, {"cold", "loaded before"}, {"warm", "loaded before"}} {
		if run.cache == "cold" {
			if err := os.Remove("/root/.cache/vigil-play/list.cache"); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		start := time.Now()
		b.openPage(t)
		b.poll(t, "the list's first screen", `document.querySelectorAll("#list tbody tr").length === 100`)
		t.Logf("list, first screen (%s; the large recording %s), list cache %s, page %s: %v (its files loaded after %s ms)",
			b.text(t, "#page-info"), b.text(t, "#list tbody tr:first-child .badge"), run.cache, run.page,
			time.Since(start).Round(time.Millisecond), b.eval(t, `String(Math.round(performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd))`))
		b.poll(t, "the whole list", `document.getElementById("page-info").textContent.endsWith(" of 10001 recordings")`)
		t.Logf("list, all of it (the large recording %s), list cache %s, page %s: %v", b.text(t, "#list tbody tr:first-child .badge"),
			run.cache, run.page, time.Since(start).Round(time.Millisecond))
	}
	// Searching all 10,001 recordings takes a while (search reads every
	// file); narrowed to bob's, the page searches only his file.
	b.setValue(t, "#f-user", "bob")
	b.click(t, "#f-apply")
	b.waitRows(t, 1)
	start := time.Now()
	b.search(t, "bench-marker-42")
	t.Logf("search bob's recording: %v (%s)", time.Since(start).Round(time.Millisecond), b.text(t, "#status"))
	for _, index := range []string{"not built yet", "cached"} {
		start := time.Now()
		b.click(t, "#hits tbody tr")
		b.waitScreen(t, "bench-marker-42")
		t.Logf("open the large recording at the hit, index %s: %v", index, time.Since(start).Round(time.Millisecond))
		b.back(t)
	}
}

// writeWeek writes n signed recordings of a small session of alice into
// dir, one a minute, the last an hour ago.
func writeWeek(t *testing.T, dir string, n int, priv ed25519.PrivateKey) {
	var out []byte
	for i := range 30 {
		out = fmt.Appendf(out, "line %d of a small session\r\n", i+1)
	}
	end := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range n {
		writeSigned(t, dir, "alice", fmt.Sprintf("week-%05d", i), end.Add(-time.Duration(n-1-i)*time.Minute), priv,
			func(e *tlog.Encoder) (time.Duration, error) { return time.Second, e.Output(time.Second, out) })
	}
}

// writeLarge writes bob's recording of about size bytes of random base64
// lines, "bench-marker-42" halfway, and returns its path.
func writeLarge(t *testing.T, dir string, size int, priv ed25519.PrivateKey) string {
	rnd := rand.NewChaCha8([32]byte{42})
	raw := make([]byte, 120)
	line := make([]byte, 0, 4096)
	// The recording's bytes are about 1.1 times the output's (JSON).
	total := size * 10 / 11
	return writeSigned(t, dir, "bob", "large", time.Now().Add(-10*time.Minute).Truncate(time.Second), priv, func(e *tlog.Encoder) (time.Duration, error) {
		pos, marked := time.Duration(0), false
		for n := 0; n < total; {
			line = line[:0]
			for len(line) < 3900 {
				rnd.Read(raw)
				line = base64.StdEncoding.AppendEncode(line, raw)
				line = append(line, '\r', '\n')
			}
			if !marked && n >= total/2 {
				line, marked = append(line, "bench-marker-42\r\n"...), true
			}
			pos += time.Millisecond
			if err := e.Output(pos, line); err != nil {
				return pos, err
			}
			n += len(line)
		}
		return pos, nil
	})
}

// writeSigned writes user's recording rec, started at start, into dir as
// the recorder does (named by its start, hash-chained and signed with
// priv, owned by vigil); out writes its output and returns where it
// ended. It returns its path.
func writeSigned(t *testing.T, dir, user, rec string, start time.Time, priv ed25519.PrivateKey, out func(*tlog.Encoder) (time.Duration, error)) string {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	f, err := sink.OpenFile(dir+"/", store.Meta{Start: start, Host: host, User: user, Rec: rec})
	if err != nil {
		t.Fatal(err)
	}
	cw := chain.New(f, priv, 10*time.Second, func() time.Time { return start.Add(time.Second) })
	e := tlog.NewEncoder(tlog.Meta{Host: host, Rec: rec, User: user, Term: "xterm", Session: 1, Start: start},
		tlog.Options{Payload: 2048, Output: true, Window: true}, cw)
	var end time.Duration
	err = e.Window(0, 80, 24)
	if err == nil {
		end, err = out(e)
	}
	if err == nil {
		err = e.Close(end + time.Second)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chown(f.Path(), vigilUID, vigilUID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.Path()
}
