package safetext

import (
	"encoding/json"
	"testing"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ✓ é":       "plain text, ✓ é",
		"xterm\x1b]2;X\a":       `xterm\x1b]2;X\a`,
		"a\u009b6n\x7f\tb\n":    `a\u009b6n\x7f\tb\n`,
		"evil\u202egnp.exe":     `evil\u202egnp.exe`,
		"zero\u200bwidth\u00a0": `zero\u200bwidth\u00a0`,
		"bad\xff\xc2":           `bad\xff\xc2`,
		"\ufffd stays":          "\ufffd stays",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	const s = "a\x1b\u009b\x7f\u00a0é\U000e0001"
	b, err := AppendJSON(nil, map[string]string{"s": s})
	var back map[string]string
	if err != nil || string(b) != `{"s":"a\u001b\u009b\u007f\u00a0é\udb40\udc01"}`+"\n" || json.Unmarshal(b, &back) != nil || back["s"] != s {
		t.Errorf("AppendJSON: %q, %v, %q", b, err, back)
	}
}
