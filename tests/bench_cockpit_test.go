package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
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
	// 10,000 copies of one real recording: the whole list reads and
	// verifies each, the first screen's peeks at each (they all started
	// in the same second, which their names cannot order).
	one := record(t, aliceUID, `for i in $(seq 1 30); do echo "line $i of a small session"; done`)
	data, err := os.ReadFile(one)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(filepath.Base(one), ".jsonl")
	for i := range 9999 {
		p := fmt.Sprintf("/var/log/vigil/%s-%05d.jsonl", base, i)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, vigilUID, vigilUID); err != nil {
			t.Fatal(err)
		}
	}
	// About 270 MB: 100 MB of random bytes as base64 on each side of
	// the marker.
	big := record(t, bobUID, `head -c 100000000 /dev/urandom | base64 -w 160; echo bench-marker-$((6*7)); `+
		`head -c 100000000 /dev/urandom | base64 -w 160`, "--limit-action=pass")
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
