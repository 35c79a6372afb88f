package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/play/listing"
)

// hostile is a recording whose every field and screen line the recorded
// user could have chosen to attack the auditor's terminal with.
const hostile = `{"ver":"2.3","host":"h\u202e\u001b[2J","rec":"r\u009b6n","user":"u\u001b]52;c;eA==\u0007","term":"xterm\u001b]2;X\u0007",` +
	`"session":1,"id":1,"pos":0,"timing":"=80x24>24","in_txt":"","in_bin":[],` +
	`"out_txt":"needle \u202eevil\u0007\u001b[31m!\u001b[0m\r\n","out_bin":[]}` + "\n"

// noControls fails when s holds what a terminal would act on.
func noControls(t *testing.T, what, s string) {
	t.Helper()
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\n' || r >= 0x7f && r < 0xa0 || r == 0x202e }) {
		t.Errorf("%s: raw control characters in %q", what, s)
	}
}

// list, search and verify print what comes from a recording escaped
// (issue 11); --json stays exact JSON, with the controls as \u escapes.
func TestOutputEscaped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x\x1b[31m.jsonl")
	if err := os.WriteFile(path, []byte(hostile), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, errOut := runCLI("", "list", "--no-cache", dir)
	noControls(t, "list", out+errOut)
	for _, want := range []string{`u\x1b]52;c;eA==\a`, `h\u202e\x1b[2J`, `xterm\x1b]2;X\a`, `r\u009b6n`, `x\x1b[31m.jsonl`} {
		if !strings.Contains(out, want) {
			t.Errorf("list does not show %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI("", "list", "--no-cache", "--json", dir)
	noControls(t, "list --json", out)
	var l listing.Row
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.Term != "xterm\x1b]2;X\a" || l.Rec != "r\u009b6n" || l.File != path {
		t.Errorf("list --json: %v %+v", err, l)
	}
	code, out, errOut := runCLI("", "search", "needle", dir)
	noControls(t, "search", out+errOut)
	if code != 0 || !strings.Contains(out, `needle \u202eevil!`) {
		t.Errorf("search: exit %d:\n%s%s", code, out, errOut)
	}
	_, out, _ = runCLI("", "search", "--json", "needle", dir)
	noControls(t, "search --json", out)
	_, out, errOut = runCLI("", "verify", path)
	noControls(t, "verify", out+errOut)
	if !strings.Contains(out, `r\u009b6n`) {
		t.Errorf("verify:\n%s%s", out, errOut)
	}
}
