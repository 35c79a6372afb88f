package tests

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgcluster"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// Issue 15 on a collector host: the same page, its "server" set to the
// collector's local socket (play/web/README.md), lists, searches, plays,
// verifies and downloads the recordings two hosts shipped, and the access
// log names them HOST/FILE.
func TestCockpitFleet(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newCockpitHost(t)
	dir := fleetDir(t)
	ctx := context.Background()
	pg, err := pgcluster.Start(ctx, filepath.Join(dir, "pg"), pgcluster.Options{NoSync: true})
	if err != nil {
		t.Skip(err) // no PostgreSQL: make deps installs it
	}
	t.Cleanup(func() { pg.Stop() })
	if err := pg.CreateDB(ctx, "vigil"); err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, pg.ConnString("vigil"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	// The auditors read through the socket's group.
	sock := filepath.Join(dir, "read.sock")
	startCollector(t, dir, pg.ConnString("vigil"), "--read-socket", sock, "--read-group", "vigil-auditors")
	writeFile(t, "/etc/cockpit/vigil.override.json", fmt.Sprintf(`{"config": {"vigil_play": %q, "vigilctl": %q, "server": %q}}`,
		binPath("vigil-play"), binPath("vigilctl"), sock))

	// What two hosts shipped, stored as the collector stores it: h0's
	// session, h1's, and h1's edited after the fact (MODIFIED).
	names := map[string]string{}
	privs := map[string]ed25519.PrivateKey{}
	for i, rec := range []string{"fleet-a", "fleet-b", "fleet-c"} {
		host := fleetHostName(min(i, 1))
		if privs[host] == nil {
			if privs[host], err = keys.Generate(); err != nil {
				t.Fatal(err)
			}
			if err := st.AddHost(ctx, host); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AddHostKey(ctx, host, privs[host].Public().(ed25519.PublicKey)); err != nil {
				t.Fatal(err)
			}
		}
		fh := &fleetHost{name: host, dir: filepath.Join(dir, rec), priv: privs[host]}
		if err := os.Mkdir(fh.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := <-fh.session(t, rec, 30, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(fh.dir + "/*.jsonl")
		if len(files) != 1 {
			t.Fatalf("%s's recordings: %v", rec, files)
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if rec == "fleet-c" {
			data = bytes.Replace(data, []byte("line 3 of"), []byte("line 9 of"), 1)
		}
		if _, err := st.Append(ctx, host, filepath.Base(files[0]), 0, data); err != nil {
			t.Fatal(err)
		}
		names[rec] = host + "/" + filepath.Base(files[0])
	}
	// What the collector's search finds, now rather than at its next fold.
	if _, err := st.FoldTexts(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("admin", func(t *testing.T) {
		b := newBrowser(t, h, "carol", true)
		b.openPage(t)
		b.waitRows(t, 3)
		if role := b.text(t, "#role"); !strings.Contains(role, "from the collector "+sock) {
			t.Errorf("role %q", role)
		}
		if hosts := b.text(t, "#list tbody"); !strings.Contains(hosts, fleetHostName(0)) || !strings.Contains(hosts, fleetHostName(1)) {
			t.Errorf("the list's hosts: %q", hosts)
		}
		if badge := b.text(t, fmt.Sprintf(`#list tr[data-file=%q] .badge`, names["fleet-c"])); badge != "MODIFIED" {
			t.Errorf("the edited recording's badge: %q", badge)
		}
		b.setValue(t, "#f-host", fleetHostName(1))
		b.click(t, "#f-apply")
		b.waitRows(t, 2)
		b.setValue(t, "#f-host", "")
		b.click(t, "#f-apply")
		b.waitRows(t, 3)

		b.search(t, "line 7 of "+fleetHostName(0))
		if n := b.count(t, "#hits tbody tr"); n != 1 {
			t.Fatalf("%d hits, want 1", n)
		}
		b.click(t, "#hits tbody tr")
		if screen := b.waitScreen(t, "fleet-a line 7 of "+fleetHostName(0)); strings.Contains(screen, "line 20 of") {
			t.Errorf("the screen at the hit:\n%s", screen)
		}
		b.click(t, "#p-badge")
		if v := b.waitText(t, "#p-verify", "OK"); !strings.Contains(v, names["fleet-a"]) {
			t.Errorf("verify: %q", v)
		}
		b.click(t, `.downloads button[data-format="asciicast"]`)
		b.poll(t, "the download", `window.downloads.length === 1`)
		if cast := b.eval(t, `window.downloads[0].text()`); !strings.HasPrefix(cast, `{"version":2`) || !strings.Contains(cast, "fleet-a line 29 of") {
			t.Errorf("the asciicast download:\n%.300s", cast)
		}
		// Played to its end, span after span from the collector.
		b.setValue(t, "#p-speed", "16")
		b.click(t, "#p-play")
		b.waitScreen(t, "fleet-a line 29 of")
		// A legal hold at the collector, placed and lifted from the page:
		// root over the collector's local socket, the admin behind it named;
		// the search's hits the player was opened from stay (s-clear below).
		if state := b.text(t, "#p-hold-state"); state != "Not held." {
			t.Errorf("hold state before: %q", state)
		}
		b.setValue(t, "#p-hold-reason", "case 4711")
		b.click(t, "#p-hold")
		if state := b.waitText(t, "#p-hold-state", "Held since"); !strings.Contains(state, "root (login carol) via uid 0") || !strings.Contains(state, ": case 4711") {
			t.Errorf("hold state after Hold: %q", state)
		}
		holds, err := st.Holds(context.Background())
		if err != nil || len(holds) != 1 || holds[0].File != strings.SplitN(names["fleet-a"], "/", 2)[1] || holds[0].Reason != "case 4711" || holds[0].ReleasedAt != nil {
			t.Errorf("the collector's holds after Hold: %+v %v", holds, err)
		}
		b.click(t, "#p-hold")
		b.waitText(t, "#p-hold-state", "Not held.")
		if holds, err := st.Holds(context.Background()); err != nil || len(holds) != 1 || holds[0].ReleasedAt == nil {
			t.Errorf("the collector's holds after Release: %+v %v", holds, err)
		}
		b.back(t)
		b.click(t, "#s-clear")
		b.openRow(t, names["fleet-c"])
		b.click(t, "#p-badge")
		b.waitText(t, "#p-verify", "MODIFIED")
	})
	t.Run("auditor", func(t *testing.T) {
		b := newBrowser(t, h, "bob", false)
		b.openPage(t)
		b.waitRows(t, 3)
		b.openRow(t, names["fleet-b"])
		b.seek(t, 1)
		b.waitScreen(t, "fleet-b line 0 of "+fleetHostName(1))
	})
	t.Run("access log", func(t *testing.T) {
		h.accessLogHas(t, " root (login carol) search */* ", " root (login carol) view "+names["fleet-a"], " root (login carol) verify "+names["fleet-a"],
			" root (login carol) download "+names["fleet-a"], " root (login carol) verify "+names["fleet-c"], " bob view "+names["fleet-b"])
	})
}

// fleetHostName is the name of the test fleet's host i.
func fleetHostName(i int) string { return fmt.Sprintf("h%d.example.com", i) }
