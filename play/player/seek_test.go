package player

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/screen"
)

// minute is a recording of a line of output every second for a minute.
func minute(t *testing.T) string {
	t.Helper()
	var chunks []recgen.Chunk
	for i := range 60 {
		// Invisible padding makes messages of a few lines each.
		chunks = append(chunks, recgen.Chunk{T: sec(float64(i)), Data: fmt.Appendf(nil, "\x1b[3%dmline %02d%s\r\n", i%8, i, strings.Repeat("\x1b[m", 200))})
	}
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(path, recgen.Record("r", chunks), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openMinute(t *testing.T, path string) *FileSource {
	t.Helper()
	s, err := OpenFile(path, index.Options{Every: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// terminal is what a terminal shows after out: a seek's reset starts it
// afresh.
func terminal(out []byte) string {
	if i := bytes.LastIndex(out, []byte(resetTerminal)); i >= 0 {
		out = out[i+len(resetTerminal):]
	}
	s := screen.New(80, 24)
	s.Write(out)
	return strings.Join(s.Text(), "\n")
}

// lines is what the recording shows once lines first..last were written.
func lines(first, last int) string {
	var b []string
	for i := max(first, last-22); i <= last; i++ {
		b = append(b, fmt.Sprintf("line %02d", i))
	}
	return strings.Join(b, "\n")
}

// player runs a player on src whose script may look at the capture.
func runScript(t *testing.T, src Source, opt Options, script func(c *capture) []step) *capture {
	t.Helper()
	w := &fakeWaiter{now: t0}
	c := &capture{w: w}
	w.script = script(c)
	if err := New(src, w, c, opt).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(w.script) > 0 {
		t.Errorf("%d scripted steps left over", len(w.script))
	}
	return c
}

// expectScreen checks what the terminal shows.
func expectScreen(t *testing.T, c *capture, when string, want string) {
	t.Helper()
	if got := terminal(c.data); got != want {
		t.Errorf("%s: screen\n%s\nwant\n%s", when, got, want)
	}
}

// --goto far ahead repaints a keyframe instead of writing all the output
// before it, and the viewer still hears that the terminal is too small.
func TestGotoKeyframe(t *testing.T) {
	var notices []string
	opt := Options{Goto: Target{T: sec(40.5)}, TermCols: 40, TermRows: 10, Notice: func(s string) { notices = append(notices, s) }}
	c := runScript(t, openMinute(t, minute(t)), opt, func(c *capture) []step {
		return []step{{at: sec(0.2), do: func() {
			expectScreen(t, c, "at 40.5", lines(0, 40))
			if bytes.Contains(c.data, []byte("line 05")) {
				t.Errorf("went forward by writing everything: %q", c.data)
			}
		}}}
	})
	expectScreen(t, c, "at the end", lines(0, 59))
	if end := c.times[len(c.times)-1]; end != sec(59-40.5) {
		t.Errorf("last line written at %v, want 18.5s", end)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "80x24") {
		t.Errorf("notices %q, want one of 80x24", notices)
	}
}

// ← and → go 5 s back and forward, digits and G anywhere, G to the end.
func TestSeekKeys(t *testing.T) {
	path := minute(t)
	c := runScript(t, openMinute(t, path), Options{}, func(c *capture) []step {
		check := func(when string, last int) func() {
			return func() { expectScreen(t, c, when, lines(0, last)) }
		}
		return []step{
			{at: sec(30.5), keys: "\x1b[D"}, // to 25.5
			{at: sec(30.6), do: check("after ←", 25)},
			{at: sec(31), keys: "\x1bOD\x1bOD"},        // application mode keys: 26 → 21 → 16
			{at: sec(31.1), do: check("after ←←", 16)}, // 16 is due at once
			{at: sec(32), keys: "\x1b[C"},              // 17 → 22
			{at: sec(32.1), do: check("after →", 22)},
			{at: sec(33), keys: "3G"},
			{at: sec(33.1), do: check("after 3G", 3)},
			{at: sec(34), keys: "0G"},
			{at: sec(34.1), do: func() { expectScreen(t, c, "after 0G", "line 00") }},
			{at: sec(35), keys: "G"},
		}
	})
	expectScreen(t, c, "at the end", lines(0, 59))
	if end := c.times[len(c.times)-1]; end != sec(35) {
		t.Errorf("last line written at %v, want 35s (G)", end)
	}
}

// Sources that cannot seek ignore going back, and say so once.
func TestSeekBackNeedsFile(t *testing.T) {
	var notices []string
	c, _, err := play(t, outAt(secs(1, 2, 3)...), Options{Notice: func(s string) { notices = append(notices, s) }},
		step{at: sec(2.5), keys: "\x1b[D"}, step{at: sec(2.6), keys: "1G"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "abc", secs(1, 2, 3))
	if len(notices) != 1 || !strings.Contains(notices[0], "going back") {
		t.Errorf("notices %q", notices)
	}
}
