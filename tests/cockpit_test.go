package tests

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/creack/pty"

	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// Issue 15: Vigil's Cockpit page (play/web), end to end. In the test's
// mount namespace: the test users with passwords (carol may sudo, bob is
// an auditor, alice neither), /var/log/vigil with the auditors' ACL
// (play/web/README.md), recordings by the real vigil-rec, the page laid
// into /usr/share/cockpit by an overlay, Debian's cockpit-ws on 127.0.0.1,
// and a real headless Chromium that logs in and uses the page.

const (
	auditorsGID = 64520
	cockpitWS   = "/usr/lib/cockpit/cockpit-ws"
	// The session bus's configuration, and where the namespace's
	// session buses put their sockets.
	sessionConf   = "/usr/share/dbus-1/session.conf"
	sessionBusDir = "/run/vigil-session-bus"
)

// cockpitHost is the namespace's Cockpit with the page and recordings.
type cockpitHost struct {
	url    string            // http://127.0.0.1:PORT
	recs   map[string]string // recordings by name
	access string            // policyd's access log
}

// webRoot is the repository's play/web.
func webRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "play", "web")
}

// buildPage bundles the page with the Makefile's rule (npm ci, esbuild)
// and returns its dist directory.
func buildPage(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not installed: the page is bundled from npm (see play/web/README.md)")
	}
	root := filepath.Join(webRoot(), "..", "..")
	if out, err := exec.Command("make", "-s", "-C", root, "web").CombinedOutput(); err != nil {
		t.Fatalf("make web: %v\n%s", err, out)
	}
	return filepath.Join(webRoot(), "dist")
}

// newCockpitHost sets the namespace up.
func newCockpitHost(t *testing.T) *cockpitHost {
	t.Helper()
	for _, p := range []string{cockpitWS, "/usr/lib/cockpit/cockpit-session"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not installed (make deps installs cockpit-ws, cockpit-bridge, cockpit-system)", p)
		}
	}
	needCmd(t, "cockpit-bridge")
	needCmd(t, "chromium")
	needCmd(t, "setfacl")
	dist := buildPage(t)
	w := policyHost(t)
	// carol is an admin (sudo), bob an auditor, alice neither.
	editGroups(t, "sudo", "carol", fmt.Sprintf("vigil-auditors:x:%d:bob", auditorsGID))
	runWith(t, "alice:"+loginPassword+"\nbob:"+loginPassword+"\ncarol:"+loginPassword+"\n", "chpasswd")
	// Cockpit's sessions leave processes behind (cockpit-bridge starts a
	// session bus that outlives cockpit-ws): the users' processes go with
	// the test, after cockpit-ws (cleanups run last first).
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-KILL", "-U", fmt.Sprintf("%d,%d,%d", aliceUID, bobUID, carolUID)).Run()
	})
	// That bus (dbus-daemon --session) listens in /tmp, the host's, where
	// a bus killed before it unlinks its socket leaves it: the namespace's
	// session.conf puts the sockets on a tmpfs of the namespace's /run.
	svctest.Tmpfs(t, sessionBusDir, "mode=1777")
	conf, err := os.ReadFile(sessionConf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(conf, []byte("unix:tmpdir=/tmp")) {
		t.Fatalf("%s does not listen in /tmp:\n%s", sessionConf, conf)
	}
	svctest.BindFile(t, sessionConf, strings.Replace(string(conf), "unix:tmpdir=/tmp", "unix:tmpdir="+sessionBusDir, 1))
	// Homes (the list cache goes there), root's too: sudo's bridge keeps
	// its cache in /root. /var/log for the recordings and for what
	// cockpit-session logs (wtmp, lastlog).
	for _, d := range []string{"/home", "/root", "/var/log"} {
		svctest.Tmpfs(t, d, "mode=755")
	}
	for u, id := range map[string]int{"alice": aliceUID, "bob": bobUID, "carol": carolUID} {
		home := "/home/" + u
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, id, -1); err != nil {
			t.Fatal(err)
		}
	}
	// Recordings and keys as the package makes them, plus the auditors'
	// ACLs (play/web/README.md).
	for _, d := range []string{"/var/log/vigil", "/etc/vigil", "/etc/vigil/keys"} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	runWith(t, "", "chown", fmt.Sprintf("%d:%d", vigilUID, vigilUID), "/var/log/vigil")
	runWith(t, "", "chown", fmt.Sprintf("0:%d", vigilUID), "/etc/vigil/keys")
	runWith(t, "", "chmod", "755", "/etc/vigil")
	runWith(t, "", binPath("keygen"), "/etc/vigil/keys/signing.key")
	runWith(t, "", "chown", fmt.Sprintf("0:%d", vigilUID), "/etc/vigil/keys/signing.key")
	runWith(t, "", "setfacl", "-m", "g:vigil-auditors:rX,d:g:vigil-auditors:rX", "/var/log/vigil")
	runWith(t, "", "setfacl", "-m", "g:vigil-auditors:rX", "/etc/vigil/keys")
	h := &cockpitHost{recs: map[string]string{}}
	// The page, as the package would install it, and its configuration:
	// the vigil-play under test.
	pkgs := filepath.Join(w, "cockpit")
	runWith(t, "", "mkdir", "-p", pkgs)
	runWith(t, "", "cp", "-r", dist, filepath.Join(pkgs, "vigil"))
	svctest.Mount(t, "-t", "overlay", "overlay", "-o", "lowerdir="+pkgs+":/usr/share/cockpit", "/usr/share/cockpit")
	writeFile(t, "/etc/cockpit/vigil.override.json", fmt.Sprintf(`{"config": {"vigil_play": %q, "vigilctl": %q}}`, binPath("vigil-play"), binPath("vigilctl")))

	// policyd on the system bus the bridges use, keeping the access log.
	if err := os.MkdirAll("/run/dbus", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", svctest.StartSystemBusAt(t, "/run/dbus/system_bus_socket"))
	policy := filepath.Join(w, "policy.toml")
	writeFile(t, policy, policyV1)
	h.access = "/var/log/vigil-access" // the default: the page's vigilctl reads it (/var/log is the namespace's)
	runPolicyd(t, policy)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	svctest.Start(t, cockpitWS, "--no-tls", "--address", "127.0.0.1", "--port", port)
	h.url = "http://127.0.0.1:" + port
	waitFor(t, "cockpit-ws", func() bool {
		resp, err := http.Get(h.url + "/cockpit/login")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	return h
}

// startRecording runs script under vigil-rec as uid, on a 100x30 pty,
// signed with the host's key, written at least every second. done waits for its end and returns the
// recording, in /var/log/vigil as the recorder leaves it (vigil:vigil
// 0640): the recorder's account writes there itself; another user's
// recording is made in a directory of theirs and moved there. recArgs are
// more options for vigil-rec.
func startRecording(t *testing.T, uid int, script string, recArgs ...string) (term *terminal, done func() string) {
	t.Helper()
	dir, key := "/var/log/vigil", "/etc/vigil/keys/signing.key"
	if uid != vigilUID {
		dir = openTempDir(t)
		data, err := os.ReadFile(key)
		if err != nil {
			t.Fatal(err)
		}
		key = filepath.Join(dir, "signing.key")
		if err := os.WriteFile(key, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, key} {
			if err := os.Chown(p, uid, uid); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := recordings(t)
	args := append([]string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups", "--",
		binPath("vigil-rec"), "--config", "/dev/null", "--latency", "1", "-o", dir + "/", "--sign-key", key}, recArgs...)
	cmd := exec.Command("setpriv", append(args, "--", "sh", "-c", script)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TERM=xterm", "HOME=/tmp"}
	term = startTerminalCmd(t, 100, 30, cmd)
	return term, func() string {
		t.Helper()
		if code := term.wait(60 * time.Second); code != 0 {
			t.Fatalf("vigil-rec: exit %d\n%q", code, term.screen())
		}
		if uid == vigilUID {
			return waitRecording(t, before)
		}
		m, _ := filepath.Glob(dir + "/*.jsonl")
		if len(m) != 1 {
			t.Fatalf("recordings in %s: %v", dir, m)
		}
		data, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		rec := filepath.Join("/var/log/vigil", filepath.Base(m[0]))
		if err := os.WriteFile(rec, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(rec, vigilUID, vigilUID); err != nil {
			t.Fatal(err)
		}
		return rec
	}
}

// record is startRecording to the end. The script may print "resize-me"
// and then read a line: the window becomes 120x40, and the test answers.
func record(t *testing.T, uid int, script string, recArgs ...string) string {
	t.Helper()
	term, done := startRecording(t, uid, script, recArgs...)
	if strings.Contains(script, "resize-me") {
		term.waitFor("resize-me", 20*time.Second)
		if err := pty.Setsize(term.ptmx, &pty.Winsize{Cols: 120, Rows: 40}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		term.typeText("\r")
	}
	return done()
}

// The session the tests search and play: lines over 2 s, a marker, a
// window change, a cleared screen, the end.
const cockpitSession = `for i in $(seq 1 20); do echo "step-$i of the session"; sleep 0.1; done
echo 'needle-7f3 found here'; sleep 1
echo resize-me; read x; stty size
printf '\033[2J\033[H'; echo after-clear; sleep 0.5; echo the-end-of-it`

// What the recorded user tries against the auditor's browser: the
// clipboard (OSC 52), queries xterm.js would answer (DA, DSR, DECRQSS,
// XTVERSION, colour), a hyperlink, a title.
const cockpitHostile = `printf '\033]52;c;%s\a' "$(printf 'rm -rf ~' | base64)"
printf '\033[c\033[>c\033[6n\033[5n\033P$qm\033\\\033[>0q\033]11;?\a'
printf '\033]8;;http://127.0.0.1:1/x\aclick me\033]8;;\a\n'
printf '\033]0;hostile title\a'
sleep 0.3; echo hostile-ok`

func TestCockpitPage(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newCockpitHost(t)
	h.recs["session"] = record(t, aliceUID, cockpitSession)
	h.recs["hostile"] = record(t, aliceUID, cockpitHostile)
	h.recs["tamper"] = record(t, bobUID, `echo tamper-me; sleep 0.2; echo done`)
	// Larger than the page's first screen verifies.
	h.recs["large"] = record(t, bobUID, `head -c 1200000 /dev/zero | base64 -w 160; echo large-done`, "--limit-action=pass")
	// A session still going on when the page opens; the test ends it.
	live, liveDone := startRecording(t, vigilUID, `echo live-start; read x; echo live-late-output; read y`)
	live.waitFor("live-start", 20*time.Second)
	h.recs["live"] = waitLive(t)
	// An edit after the fact: same length, valid JSON.
	data, err := os.ReadFile(h.recs["tamper"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("tamper-me")) {
		t.Fatalf("the recording lacks its text:\n%s", data)
	}
	writeFile(t, h.recs["tamper"], string(bytes.Replace(data, []byte("tamper-me"), []byte("tamper-ME"), 1)))
	// Command logs, as vigil-cmdlog writes them: the session's, with a
	// loss and a hostile argv, and one edited after the fact.
	writeCommandLog(t, h.recs["session"], []cockpitCommand{
		{at: 200 * time.Millisecond, argv: []string{"seq", "1", "20"}},
		{at: time.Second, argv: []string{"sleep", "0.1"}},
		{at: 1500 * time.Millisecond, lost: "kernel lost 2 audit records"},
		{at: 2500 * time.Millisecond, argv: []string{"printf", cockpitHostileArgv}, exit: -13},
	})
	tamperLog := writeCommandLog(t, h.recs["tamper"], []cockpitCommand{{at: 100 * time.Millisecond, argv: []string{"echo", "tamper-me"}}})
	data, err = os.ReadFile(tamperLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tamperLog, bytes.Replace(data, []byte(`"tamper-me"`), []byte(`"tamper-ME"`), 1), 0o640); err != nil {
		t.Fatal(err)
	}

	t.Run("admin", func(t *testing.T) { cockpitAdmin(t, h, live) })
	live.typeText("\r")
	liveDone()
	t.Run("auditor", func(t *testing.T) {
		b := newBrowser(t, h, "bob", false)
		b.openPage(t)
		b.waitRows(t, 5)
		if role := b.text(t, "#role"); !strings.Contains(role, "Auditor (vigil-auditors)") {
			t.Errorf("role %q", role)
		}
		b.openRow(t, h.recs["session"])
		b.seek(t, 1)
		b.waitScreen(t, "step-1 of")
		// The command log is readable through the same ACLs.
		b.waitText(t, "#p-cmd-state", "OK")
	})
	// Every view, search, verification and download went to the access
	// log first: carol's as root through the superuser bridge, bob's as
	// himself; alice recorded nothing.
	t.Run("access log", func(t *testing.T) {
		log := h.accessLogHas(t, " root (login carol) search ", "(needle-7f3)", " root (login carol) view "+h.recs["session"],
			" root (login carol) download "+h.recs["session"], "(asciicast)", " root (login carol) verify "+h.recs["tamper"],
			" root (login carol) view "+h.recs["hostile"], " bob view "+h.recs["session"], "from http://127.0.0.1:")
		if regexp.MustCompile(`seq [0-9]+ alice `).MatchString(log) {
			t.Errorf("alice's access was recorded:\n%s", log)
		}
	})
	t.Run("nobody", func(t *testing.T) {
		b := newBrowser(t, h, "alice", false)
		b.openPage(t)
		b.waitVisible(t, "#noaccess")
		if why := b.text(t, "#noaccess-why"); !strings.Contains(why, "vigil-auditors") {
			t.Errorf("no-access text %q", why)
		}
		if n := b.count(t, "#list tbody tr"); n != 0 {
			t.Errorf("alice sees %d recordings", n)
		}
		// The host refuses too, whatever the page asks the bridge.
		out := b.eval(t, `new Promise(resolve => cockpit.spawn([`+jsString(binPath("vigil-play"))+`, "list", "--json", "/var/log/vigil"],
			{superuser: "try", err: "message"}).then(out => resolve("listed: " + out), ex => resolve("refused: " + ex.message)))`)
		if !strings.HasPrefix(out, "refused: ") || !strings.Contains(out, "permission denied") {
			t.Errorf("vigil-play list through alice's bridge: %s", out)
		}
	})
}

func cockpitAdmin(t *testing.T, h *cockpitHost, live *terminal) {
	b := newBrowser(t, h, "carol", true)
	watchList(t, b)
	b.openPage(t)
	b.waitRows(t, 5)
	if role := b.text(t, "#role"); !strings.Contains(role, "Administrator") {
		t.Errorf("role %q", role)
	}
	// The first screen came from list's newest rows, the large recording
	// not verified yet; then the whole list, verified.
	const all = "1–5 of 5 recordings | live,OK,MODIFIED,OK,OK"
	b.poll(t, "the whole list", `window.listShown.includes(`+jsString(all)+`)`)
	if shown := b.eval(t, `window.listWatch.disconnect(), window.listShown.filter(s => !s.startsWith(" |")).join("\n")`); shown !=
		"The newest 5 recordings; loading the others… | live,verifying…,MODIFIED,OK,OK\n"+all {
		t.Errorf("the list as it was shown:\n%s", shown)
	}
	if !b.sentHas(`"list","--json","--reverse","--limit","100","--verify-max-bytes","1048576","/var/log/vigil"]`) ||
		!b.sentHas(`"list","--json","--reverse","/var/log/vigil"]`) {
		t.Error("the page did not run list for its first screen and then for all")
	}
	b.screenshot(t, "list.png")

	// Filters: list's own (user), and the page's (integrity, live).
	for _, f := range []struct {
		field, value string
		rows         int
	}{{"#f-user", "alice", 2}, {"#f-user", "", 5}, {"#f-state", "MODIFIED", 1}, {"#f-state", "", 5}, {"#f-live", "live", 1}, {"#f-live", "", 5}} {
		b.setValue(t, f.field, f.value)
		b.click(t, "#f-apply")
		b.waitRows(t, f.rows)
	}

	// Search, open the hit: the screen as it was then.
	b.search(t, "needle-7f3")
	if n := b.count(t, "#hits tbody tr"); n != 1 {
		t.Fatalf("%d hits, want 1", n)
	}
	b.click(t, "#hits tbody tr")
	screen := b.waitScreen(t, "needle-7f3 found here")
	if !strings.Contains(screen, "step-20 of") || strings.Contains(screen, "after-clear") {
		t.Errorf("the screen at the hit:\n%s", screen)
	}
	at := b.evalFloat(t, `Number(document.getElementById("p-seek").value)`)
	if at < 1.9 || at > 3 {
		t.Errorf("the player is at %.3f s, want the hit's time", at)
	}

	// The command timeline beside the player: the log's verdict, the loss
	// in place, the hostile argv as quoted text; a click seeks the player
	// to the command's time.
	b.waitText(t, "#p-cmd-state", "OK")
	b.screenshot(t, "player.png")
	if n, lost := b.count(t, "#p-cmd-list li.clickable"), b.count(t, "#p-cmd-list li.lost"); n != 3 || lost != 1 {
		t.Errorf("the timeline: %d commands, %d losses", n, lost)
	}
	if lost := b.text(t, "#p-cmd-list li.lost"); !strings.Contains(lost, "may be missing here: kernel lost 2 audit records") {
		t.Errorf("the loss: %q", lost)
	}
	if txt, n := b.text(t, "#p-cmd-list li:nth-child(4)"), b.count(t, "#p-commands img"); n != 0 ||
		!strings.Contains(txt, `printf $'<img src=x onerror=alert(1)>\x1b]2;pwned\a'`) || !strings.Contains(txt, "[EACCES]") {
		t.Errorf("the hostile command: %q, %d images", txt, n)
	}
	b.click(t, "#p-cmd-list li:nth-child(2)")
	b.poll(t, "the player at the command", `Math.abs(Number(document.getElementById("p-seek").value) - 1) < 0.01`)
	if screen := b.waitScreen(t, "step-1 of"); strings.Contains(screen, "needle") {
		t.Errorf("the screen at the command (1 s):\n%s", screen)
	}

	// A download: the recording as asciicast, exported on the host.
	b.click(t, `.downloads button[data-format="asciicast"]`)
	b.poll(t, "the download", `window.downloads.length === 1`)
	if cast := b.eval(t, `window.downloads[0].text()`); !strings.HasPrefix(cast, `{"version":2,"width":100,"height":30`) ||
		!strings.Contains(cast, "needle-7f3 found here") {
		t.Errorf("the asciicast download:\n%.300s", cast)
	}

	// Back to the start.
	b.seek(t, 0.25)
	screen = b.waitScreen(t, "step-1 of")
	if strings.Contains(screen, "needle") || strings.Contains(screen, "step-9 of") {
		t.Errorf("the screen at 0.25 s:\n%s", screen)
	}

	// Played to the end, fast: the window change and the cleared screen.
	b.setValue(t, "#p-speed", "16")
	b.click(t, "#p-play")
	screen = b.waitScreen(t, "the-end-of-it")
	if strings.Contains(screen, "step-20") {
		t.Errorf("the screen at the end was not cleared:\n%s", screen)
	}
	if size := b.eval(t, `document.getElementById("terminal").dataset.size`); size != "120x40" {
		t.Errorf("the terminal is %s at the end, want the recorded 120x40", size)
	}

	// The edited recording is MODIFIED, and verify says where.
	b.back(t)
	b.click(t, "#s-clear")
	badge := b.text(t, fmt.Sprintf(`#list tr[data-file=%q] .badge`, h.recs["tamper"]))
	if badge != "MODIFIED" {
		t.Errorf("the edited recording's badge: %q", badge)
	}
	if ok := b.text(t, fmt.Sprintf(`#list tr[data-file=%q] .badge`, h.recs["session"])); ok != "OK" {
		t.Errorf("the intact recording's badge: %q", ok)
	}
	b.openRow(t, h.recs["tamper"])
	// Its command log was edited too: MODIFIED, in red.
	if st := b.waitText(t, "#p-cmd-state", "MODIFIED"); !strings.Contains(st, "line 2") || b.count(t, "#p-cmd-state.bad") != 1 {
		t.Errorf("the edited command log: %q", st)
	}
	b.click(t, "#p-badge")
	if v := b.waitText(t, "#p-verify", "MODIFIED"); !strings.Contains(v, "at line") {
		t.Errorf("verify details: %q", v)
	}

	// A legal hold placed and lifted from the page: vigilctl as root, the
	// admin behind it named.
	if st := b.text(t, "#p-hold-state"); st != "Not held." {
		t.Errorf("hold state before: %q", st)
	}
	b.setValue(t, "#p-hold-reason", "case 4711")
	b.click(t, "#p-hold")
	b.waitText(t, "#p-hold-state", "Held since")
	holds, err := store.LoadHolds(store.HoldsDir("/var/log/vigil"))
	if err != nil || len(holds) != 1 {
		t.Fatalf("holds after Hold: %v %v", holds, err)
	}
	for _, hold := range holds {
		if hold.Reason != "case 4711" || hold.By != "root (login carol)" || hold.File != h.recs["tamper"] {
			t.Errorf("the hold: %+v", hold)
		}
	}
	b.click(t, "#p-hold")
	b.waitText(t, "#p-hold-state", "Not held.")
	if holds, err := store.LoadHolds(store.HoldsDir("/var/log/vigil")); err != nil || len(holds) != 0 {
		t.Errorf("holds after Release: %v %v", holds, err)
	}

	// The access log, as admins see it on the page: every line verified.
	b.back(t)
	b.click(t, "#access-log")
	b.waitText(t, "#access tbody", "root (login carol)")
	if n, ok := b.count(t, "#access tbody tr"), b.count(t, "#access tbody .badge.ok"); n < 5 || ok != n {
		t.Errorf("the access log on the page: %d lines, %d OK", n, ok)
	}
	b.click(t, "#access-back")

	// The hostile recording plays, and nothing reaches the clipboard or
	// goes back to the host.
	b.clearSent()
	b.openRow(t, h.recs["hostile"])
	b.waitText(t, "#p-cmd-state", "no command log for recording")
	b.click(t, "#p-play")
	screen = b.waitScreen(t, "hostile-ok")
	if !strings.Contains(screen, "click me") {
		t.Errorf("the hostile recording's text:\n%s", screen)
	}
	time.Sleep(300 * time.Millisecond) // anything xterm.js would send goes now
	if clip := b.eval(t, `JSON.stringify(window.clipboardCalls)`); clip != "[]" {
		t.Errorf("the clipboard was used: %s", clip)
	}
	if anchors := b.count(t, `#terminal a`); anchors != 0 {
		t.Errorf("the terminal holds %d links", anchors)
	}
	b.noTerminalReplies(t)

	// Following the live session: what it prints later shows up.
	b.back(t)
	b.openRow(t, h.recs["live"])
	if b.text(t, "#p-live") != "live" {
		t.Error("the live recording is not shown as live")
	}
	b.setValue(t, "#p-speed", "16")
	b.click(t, "#p-play")
	b.waitScreen(t, "live-start")
	live.typeText("\r")
	live.waitFor("live-late-output", 10*time.Second)
	b.waitScreen(t, "live-late-output")
}

// watchList keeps in window.listShown what the list showed each time it
// changed: the pager's text and the rows' badges, as "INFO | B1,B2,...",
// until window.listWatch.disconnect().
func watchList(t *testing.T, b *browser) {
	t.Helper()
	const watch = `window.listShown = [];
window.listWatch = new MutationObserver(() => {
	const info = document.getElementById("page-info");
	if (!info)
		return;
	const shown = info.textContent + " | " + [...document.querySelectorAll("#list tbody .badge")].map(b => b.textContent).join(",");
	if (window.listShown[window.listShown.length - 1] !== shown)
		window.listShown.push(shown);
});
window.listWatch.observe(document, { childList: true, subtree: true, characterData: true });`
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watch}); err != nil {
		t.Fatal(err)
	}
}

// sentHas tells whether the page sent s in a WebSocket frame (the
// commands it runs are in Cockpit's control messages).
func (b *browser) sentHas(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.ContainsFunc(b.sent, func(f string) bool { return strings.Contains(f, s) })
}

// cockpitHostileArgv is an argument that would be markup in innerHTML,
// and a title change on a terminal.
const cockpitHostileArgv = "<img src=x onerror=alert(1)>\x1b]2;pwned\a"

// cockpitCommand is an entry of a command log, at its offset into the
// recording: a command (a failed call when exit < 0), or a loss.
type cockpitCommand struct {
	at   time.Duration
	argv []string
	exit int64
	lost string
}

// writeCommandLog writes the command log of the recording in file as
// vigil-cmdlog does (root, signed with the host's key, in
// /var/log/vigil/commands), and returns its path.
func writeCommandLog(t *testing.T, file string, cmds []cockpitCommand) string {
	t.Helper()
	head, err := store.ReadHead(file)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.LoadPrivate("/etc/vigil/keys/signing.key")
	if err != nil {
		t.Fatal(err)
	}
	w, err := commands.Create("/var/log/vigil", commands.Entry{Rec: head.Rec, Time: head.Start, Start: head.Start,
		Host: head.Host, User: head.User, Session: 1}, key)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		e := commands.Entry{Kind: commands.KindLost, Time: head.Start.Add(c.at), Lost: c.lost}
		if c.argv != nil {
			e.Kind = commands.KindExec
			e.Cmd = &commands.Command{PID: 100 + i, PPID: 99, UID: aliceUID, EUID: aliceUID, AUID: aliceUID, TTY: "pts0",
				Cwd: "/home/alice", Exe: "/usr/bin/" + c.argv[0], Path: c.argv[0], Argv: c.argv, OK: c.exit == 0, Exit: c.exit}
		}
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(head.Start.Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return w.Path()
}

// waitLive waits for the one recording that has no end yet, and returns it.
func waitLive(t *testing.T) string {
	t.Helper()
	var live string
	waitFor(t, "the live recording", func() bool {
		for _, r := range recordings(t) {
			if data, err := os.ReadFile(r); err == nil && !bytes.Contains(data, []byte(`"end":`)) && bytes.Contains(data, []byte("live-start")) {
				live = r
				return true
			}
		}
		return false
	})
	return live
}

// accessLogHas checks that every line of the access log verifies and that
// it holds each of wants, and returns it as vigilctl access-log lists it.
func (h *cockpitHost) accessLogHas(t *testing.T, wants ...string) string {
	t.Helper()
	out, err := exec.Command(binPath("vigilctl"), "access-log", "--dir", h.access, "-k", "/etc/vigil/keys/signing.key.pub").CombinedOutput()
	log := string(out)
	for _, want := range wants {
		if !strings.Contains(log, want) {
			t.Errorf("the access log lacks %q", want)
		}
	}
	if err != nil || strings.Count(log, ": OK\n") != strings.Count(log, "\n") {
		t.Errorf("vigilctl access-log: %v\n%s", err, log)
	}
	return log
}

// jsString quotes s for JavaScript.
func jsString(s string) string { return fmt.Sprintf("%q", s) }
