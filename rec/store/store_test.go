package store

import (
	"testing"
	"time"
)

const testRec = "c7d1a4b2e3f5-1a2b-3c4d5e"

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"":            "_",
		"alice":       "alice",
		"rüdiger":     "rüdiger",
		".hidden":     "_hidden",
		"..":          "_.",
		"a/../b":      "a_.._b",
		"tab\there":   "tab_here",
		"nl\n":        "nl_",
		"esc\x1b[1m":  "esc_[1m",
		"bad\xffutf8": "bad_utf8",
		`back\slash`:  "back_slash",
		"dom.ain":     "dom.ain",
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestName(t *testing.T) {
	m := Meta{Start: time.Date(2026, 11, 22, 21, 4, 5, 0, time.FixedZone("CET", 3600)), Host: "vm.example.org", User: "rüdiger", Rec: testRec}
	want := "20261122T200405Z-vm.example.org-rüdiger-" + testRec + ".jsonl"
	if got := m.Name(0); got != want {
		t.Fatalf("Name() = %q, want %q", got, want)
	}
	m.Host, m.User = "../etc", ".x/y"
	if got := m.Name(3); got != "20261122T200405Z-_._etc-_x_y-"+testRec+".3.jsonl" {
		t.Fatalf("Name(3) = %q: host/user not sanitized or no suffix", got)
	}
	// The start comes back from the name, to the second; other names
	// say nothing.
	if at, ok := NameStart(m.Name(3)); !ok || !at.Equal(m.Start) {
		t.Errorf("NameStart(%q) = %v %v, want %v", m.Name(3), at, ok, m.Start)
	}
	for _, name := range []string{"tlog.jsonl", "20261122T200405Z.jsonl", "20261399T200405Z-h-u-r.jsonl"} {
		if at, ok := NameStart(name); ok {
			t.Errorf("NameStart(%q) = %v", name, at)
		}
	}
}
