package tests

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium logged in to the test's Cockpit as one
// user, showing the Vigil page.
type browser struct {
	ctx  context.Context
	url  string // the page's
	mu   sync.Mutex
	sent []string // WebSocket frames the page sent
}

// pageSpy records every use of the clipboard APIs in
// window.clipboardCalls, and the files the page offers to download in
// window.downloads, in every document the browser loads.
const pageSpy = `window.clipboardCalls = [];
window.downloads = [];
const createObjectURL = URL.createObjectURL;
URL.createObjectURL = blob => { window.downloads.push(blob); return createObjectURL(blob); };
if (navigator.clipboard) {
	for (const m of ["write", "writeText"])
		navigator.clipboard[m] = () => { window.clipboardCalls.push(m); return Promise.resolve(); };
}
const execCommand = document.execCommand.bind(document);
document.execCommand = (c, ...a) => { window.clipboardCalls.push("execCommand " + c); return execCommand(c, ...a); };`

// newBrowser starts Chromium with a fresh profile and logs user in with
// the test password (with administrative access if admin). Chromium is
// killed when t ends.
func newBrowser(t *testing.T, h *cockpitHost, user string, admin bool) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("chromium"),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		// Its singleton socket's directory too, which it leaves behind.
		chromedp.Env("TMPDIR=" + t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// The first call starts the browser: without a timeout, which would
	// bind the browser's life to it.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: pageSpy}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if f, ok := ev.(*network.EventWebSocketFrameSent); ok {
			b.mu.Lock()
			b.sent = append(b.sent, string(f.Response.PayloadData))
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.do(t, chromedp.Navigate(h.url+"/"), chromedp.WaitVisible(chromedp.CSS("#login-user-input")))
	if admin {
		// What the login page sends as X-Superuser: start the superuser
		// bridge (sudo) with the login password.
		b.eval(t, `localStorage.setItem("superuser:`+user+`", "any"), ""`)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.CSS("#login-user-input"), user),
		chromedp.SendKeys(chromedp.CSS("#login-password-input"), loginPassword),
		chromedp.Click(chromedp.CSS("#login-button")))
	// The login page goes on to Cockpit's shell.
	b.poll(t, "the login", `location.pathname !== "/"`)
	b.url = h.url + "/cockpit/@localhost/vigil/index.html"
	return b
}

// openPage opens the Vigil page (directly, not in the shell's iframe) and
// waits for its access check.
func (b *browser) openPage(t *testing.T) {
	t.Helper()
	b.do(t, chromedp.Navigate(b.url))
	b.poll(t, "the page's access check", `document.getElementById("status").textContent !== "Checking access…"`)
}

// do runs actions, within 30 seconds.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v\npage status: %s", err, b.statusText())
	}
}

// value runs an action that returns a value, within 30 seconds.
func value[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v\npage status: %s", err, b.statusText())
	}
	return v
}

// statusText is the page's status line and the player's state, for
// failure messages.
func (b *browser) statusText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const text = id => (document.getElementById(id) || {}).textContent || "";
		const term = document.querySelector("#terminal");
		const rows = document.querySelector("#terminal .xterm-rows");
		return text("status") + (term ? " | player at " + text("p-time") + ", " + JSON.stringify(term.dataset) +
			", " + text("p-play") + ", screen:\n" + (rows ? rows.innerText : "") : "");
	})()`))
	return s
}

// eval evaluates a JavaScript expression whose value is a string (or a
// promise of one).
func (b *browser) eval(t *testing.T, js string) string {
	t.Helper()
	return value(t, b, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
}

func (b *browser) evalFloat(t *testing.T, js string) float64 {
	t.Helper()
	return value(t, b, chromedp.Evaluate[float64](js))
}

// poll waits up to 30 seconds for a JavaScript condition. It evaluates it
// again and again rather than with chromedp.Poll, which fails when the
// document changes meanwhile (the shell's page giving way to ours).
func (b *browser) poll(t *testing.T, what, cond string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if ok {
			return
		}
	}
	t.Fatalf("waiting for %s: %v\npage status: %s", what, err, b.statusText())
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return b.eval(t, `(document.querySelector(`+jsString(sel)+`) || {}).textContent || ""`)
}

func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	return int(b.evalFloat(t, `document.querySelectorAll(`+jsString(sel)+`).length`))
}

func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	b.do(t, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) waitVisible(t *testing.T, sel string) {
	t.Helper()
	b.do(t, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// setValue sets a form field and tells the page it changed.
func (b *browser) setValue(t *testing.T, sel, v string) {
	t.Helper()
	b.eval(t, `(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = `+jsString(v)+
		`; e.dispatchEvent(new Event("change")); return "" })()`)
}

// waitRows waits until the whole list is there and shows n recordings.
func (b *browser) waitRows(t *testing.T, n int) {
	t.Helper()
	// The whole list: the first screen's rows are replaced when it comes,
	// and a row clicked meanwhile would be gone.
	b.poll(t, "the list", `document.querySelectorAll("#list tbody tr").length === `+strconv.Itoa(n)+
		` && !document.getElementById("page-info").textContent.includes("loading the others")`)
}

// search searches the recordings for text and waits for the hits.
func (b *browser) search(t *testing.T, text string) {
	t.Helper()
	b.eval(t, `(() => { document.getElementById("s-text").value = `+jsString(text)+`; return "" })()`)
	b.click(t, "#s-go")
	b.poll(t, "the search", `!document.getElementById("hits-view").hidden`)
}

// openRow opens the recording in file from the list.
func (b *browser) openRow(t *testing.T, file string) {
	t.Helper()
	b.click(t, `#list tr[data-file=`+jsString(file)+`]`)
	b.poll(t, "the player", `document.getElementById("terminal").dataset.state === "ready"`)
}

// waitScreen waits until the player's terminal shows want, and returns
// its text.
func (b *browser) waitScreen(t *testing.T, want string) string {
	t.Helper()
	const screen = `document.querySelector("#terminal .xterm-rows").innerText`
	b.poll(t, "the screen to show "+want, `document.getElementById("terminal").dataset.state === "ready" && `+
		screen+`.includes(`+jsString(want)+`)`)
	return b.eval(t, screen)
}

// waitText waits until the element shows want, and returns its text.
func (b *browser) waitText(t *testing.T, sel, want string) string {
	t.Helper()
	b.poll(t, sel+" to show "+want, `(document.querySelector(`+jsString(sel)+`) || {}).textContent.includes(`+jsString(want)+`)`)
	return b.text(t, sel)
}

// seek moves the player's position slider to seconds.
func (b *browser) seek(t *testing.T, seconds float64) {
	t.Helper()
	b.setValue(t, "#p-seek", strconv.FormatFloat(seconds, 'f', 3, 64))
}

// back returns from the player to the list.
func (b *browser) back(t *testing.T) {
	t.Helper()
	b.click(t, "#back")
	b.waitVisible(t, "#browse")
}

// screenshot captures the browser's window: into play/web/screenshots
// when VIGIL_SCREENSHOTS=1 (the README's pictures), else into a
// temporary directory, so that make test leaves the tree alone.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := value(t, b, chromedp.CaptureScreenshot())
	dir := t.TempDir()
	if os.Getenv("VIGIL_SCREENSHOTS") == "1" {
		dir = filepath.Join(webRoot(), "screenshots")
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clearSent forgets the WebSocket frames sent so far (the shell's, before
// the page was opened).
func (b *browser) clearSent() {
	b.mu.Lock()
	b.sent = nil
	b.mu.Unlock()
}

// noTerminalReplies checks what the page sent over Cockpit's WebSocket
// since clearSent: control messages only (the first line of a Cockpit
// frame is the channel, empty for control: opening vigil-play's
// processes) and the D-Bus call that records the view in the access log,
// none of them holding an escape character, so no answer of the
// terminal's went to the host.
func (b *browser) noTerminalReplies(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sent) == 0 {
		t.Fatal("no WebSocket frames seen: is the page connected?")
	}
	for _, f := range b.sent {
		channel, _, _ := strings.Cut(f, "\n")
		accessCall := strings.Contains(f, `"call":["/io/vigil/Policy1","io.vigil.Policy1","RecordAccess",`)
		if channel != "" && !accessCall || strings.Contains(f, "\x1b") || strings.Contains(f, `\u001b`) {
			t.Errorf("the page sent %.200q", f)
		}
	}
}
