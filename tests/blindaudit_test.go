package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// Issue 11, items 5 and 8: the recorded user, logged in over real sshd,
// tries to blind the auditor's tools (window sizes, escape sequences that
// drop lines from the transcript and the search) and to attack the
// auditor's terminal through them.

// blindMaxRSS is how much memory vigil-play may use on these small
// recordings, whatever window size they claim.
const blindMaxRSS = 256 << 20

// blindPlay runs vigil-play to completion (within two minutes) and returns
// its standard output; it fails the test if vigil-play fails or uses more
// than blindMaxRSS.
func blindPlay(t *testing.T, wantExit int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath("vigil-play"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != wantExit {
		t.Fatalf("vigil-play %s: exit %d (%v), want %d\n%s", strings.Join(args, " "), code, err, wantExit, stderr.Bytes())
	}
	if rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10; rss > blindMaxRSS {
		t.Errorf("vigil-play %s used %d MB", strings.Join(args, " "), rss>>20)
	}
	return stdout.String()
}

// blindSession logs alice in over ssh -tt on a terminal of cols×rows, runs
// each command and waits for it to end, logs out and returns the
// recording.
func blindSession(t *testing.T, cols, rows uint16, cmds ...string) string {
	t.Helper()
	before := recordings(t)
	term := startTerminalCmd(t, cols, rows, ssh("alice", "-tt", "HOST"))
	term.waitFor("alice@", 20*time.Second)
	for i, c := range cmds {
		// The marker is computed, so that it shows only once the command ran.
		term.typeText(fmt.Sprintf("%s; echo blind-done-$((%d+1))\r", c, 1000+i))
		term.waitFor(fmt.Sprintf("blind-done-%d", 1001+i), 20*time.Second)
	}
	term.typeText("exit\r")
	term.wait(20 * time.Second)
	return waitRecording(t, before)
}

// blindFinds checks that the recording verifies and that its text export
// and search both show each marker.
func blindFinds(t *testing.T, h *loginHost, rec string, markers ...string) {
	t.Helper()
	verifyFile(t, rec, h.pub)
	text := blindPlay(t, 0, "export", "--format", "text", rec)
	for _, m := range markers {
		if !strings.Contains(text, m) {
			t.Errorf("the text export lacks %q:\n%.4000s", m, text)
		}
		if out := blindPlay(t, 0, "search", m, rec); !strings.Contains(out, m) {
			t.Errorf("search %q: %q", m, out)
		}
	}
}

// A window of 0×0 (a terminal nobody sized, or ssh -tt run from a script)
// or of 65535×65535 neither empties the transcript and the search nor
// makes vigil-play run out of memory.
func TestBlindWindowSizes(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	t.Run("0x0 terminal", func(t *testing.T) {
		rec := blindSession(t, 0, 0, "echo zero-window-$((6*7))")
		blindFinds(t, h, rec, "zero-window-42")
	})
	t.Run("ssh -tt from a script", func(t *testing.T) {
		before := recordings(t)
		cmd := ssh("alice", "-tt", "HOST", "echo script-window-$((6*7))")
		cmd.Stdin = strings.NewReader("")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "script-window-42") {
			t.Fatalf("ssh -tt: %v\n%s", err, out)
		}
		rec := waitRecording(t, before)
		if data, _ := os.ReadFile(rec); !bytes.Contains(data, []byte(`"timing":"=0x0`)) {
			t.Errorf("the recording's window is not 0x0:\n%.300s", data)
		}
		blindFinds(t, h, rec, "script-window-42")
	})
	t.Run("65535x65535", func(t *testing.T) {
		rec := blindSession(t, 65535, 65535, "echo huge-window-$((6*7)); printf '\\e[65535;65535Hx\\n'")
		if data, _ := os.ReadFile(rec); !bytes.Contains(data, []byte("=65535x65535")) {
			t.Errorf("the recording's window is not 65535x65535:\n%.300s", data)
		}
		blindFinds(t, h, rec, "huge-window-42")
		if out := blindPlay(t, 0, "play", "--goto", "end", rec); !strings.Contains(out, "huge-window-42") {
			t.Errorf("play --goto end: %q", out)
		}
		blindPlay(t, 0, "export", "--format", "asciicast", rec)
	})
}

// Escape sequences that take lines off the screen without scrolling them
// past its bottom (scroll up, reset, erase, the alternate screen, a scroll
// region as tmux sets, text padded across the end of a row) leave every
// line in the transcript and the search. Each runs in a session of its own
// that shows little else, so that nothing else brings the line back.
func TestBlindScreenTricks(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	for _, c := range []struct{ name, cmd, marker string }{
		{"scroll up 999", `printf 'gone-su-%d\n\e[999S' $((6*7))`, "gone-su-42"},
		{"reset", `printf 'gone-ris-%d\n\ec' $((6*7))`, "gone-ris-42"},
		{"clear", `printf 'gone-clear-%d\n\e[H\e[2J\e[3J' $((6*7))`, "gone-clear-42"},
		{"erase below from home", `printf 'gone-below-%d\n\e[H\e[J' $((6*7))`, "gone-below-42"},
		{"alternate screen", `printf '\e[?1049h\e[Hgone-alt-%d\n' $((6*7)); sleep 0.3; printf '\e[?1049l'`, "gone-alt-42"},
		{"tmux scroll region", `printf '\e[1;25r\e[25;1H'; for i in $(seq 30); do echo gone-region-$((i+100)); done; printf '\e[r'`, "gone-region-101"},
		{"padded across the wrap", `printf "%95s" ''; echo gone-wrap-$((6*7))`, "gone-wrap-42"},
		{"negative parameter", `printf 'gone-neg-%d\r\e[-1P\n' $((6*7))`, "gone-neg-42"},
	} {
		t.Run(c.name, func(t *testing.T) {
			blindFinds(t, h, blindSession(t, 100, 30, c.cmd), c.marker)
		})
	}
}

// What the recorded user chose (the terminal name, and queries, clipboard
// and control strings in the output) reaches the auditor's terminal
// neither through list nor through play.
func TestBlindTerminalInjection(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	newLoginHost(t, loginPolicy, "")
	before := recordings(t)
	cmd := ssh("alice", "-tt", "HOST", `printf 'inject-%d\e[c\e[>c\e]52;c;c2VjcmV0\a\e[6n\e[21t\eP$qm\e\\\e]11;?\a\e[2h done\n' $((6*7))`)
	cmd.Env = append(os.Environ(), "TERM=xterm\x1b]2;X\x07")
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "inject-42") {
		t.Fatalf("ssh: %v\n%q", err, out)
	}
	rec := waitRecording(t, before)
	queries := []string{"\x1b[c", "\x1b[>c", "\x1b]52;", "\x1b[6n", "\x1b[21t", "\x1bP$q", "\x1b]11;?", "\x1b[2h"}
	raw := blindPlay(t, 0, "export", "--format", "raw", rec)
	for _, q := range queries {
		if !strings.Contains(raw, q) {
			t.Fatalf("the recording does not hold %q: %q", q, raw)
		}
	}

	list := blindPlay(t, 0, "list", "--no-cache", "/var/log/vigil")
	if strings.ContainsAny(list, "\x1b\x07") || !strings.Contains(list, `xterm\x1b]2;X\a`) {
		t.Errorf("list shows the terminal name unescaped:\n%q", list)
	}
	if js := blindPlay(t, 0, "list", "--no-cache", "--json", "/var/log/vigil"); !strings.Contains(js, `"term":"xterm\u001b]2;X\u0007"`) {
		t.Errorf("list --json: %s", js)
	}

	// Played on a terminal: the text, not the queries.
	term := startTerminal(t, 100, 30, binPath("vigil-play"), "play", "--speed", "1000", rec)
	if code := term.wait(time.Minute); code != 0 {
		t.Fatalf("play: exit %d: %q", code, term.screen())
	}
	shown := string(term.screen())
	if !strings.Contains(shown, "inject-42") || !strings.Contains(shown, " done") {
		t.Errorf("play does not show the output: %q", shown)
	}
	for _, q := range queries {
		if strings.Contains(shown, q) {
			t.Errorf("play wrote %q to the terminal: %q", q, shown)
		}
	}
	term = startTerminal(t, 100, 30, binPath("vigil-play"), "play", "--unfiltered", "--speed", "1000", rec)
	if code := term.wait(time.Minute); code != 0 || !strings.Contains(string(term.screen()), "\x1b]52;c;c2VjcmV0") {
		t.Errorf("play --unfiltered: exit %d: %q", code, term.screen())
	}
}
