package main

import (
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/conf/hostinfo"
)

// hold and release place and lift the collector's legal hold, over its
// local socket, in the caller's name; list shows it.
func TestHoldServer(t *testing.T) {
	f := newFleet(t)
	if code, _, errOut := runCLI("", "hold", "--server", f.sock, f.name); code != exitUsageErr || !strings.Contains(errOut, "--reason") {
		t.Errorf("hold without a reason: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI("", "hold", "--reason", "x", f.name); code != exitUsageErr || !strings.Contains(errOut, "--server") {
		t.Errorf("hold without --server: %d %q", code, errOut)
	}
	if code, out, errOut := runCLI("", "hold", "--server", f.sock, "--reason", "case 4711", f.name); code != 0 || out != "held "+f.name+"\n" {
		t.Fatalf("hold: %d %q %q", code, out, errOut)
	}
	code, out, _ := runCLI("", "list", "--server", f.sock, "--json")
	if code != 0 || !strings.Contains(out, `"reason":"case 4711"`) || !strings.Contains(out, hostinfo.Caller()+" via uid 0") {
		t.Errorf("list after the hold: %d %s", code, out)
	}
	if code, _, errOut := runCLI("", "hold", "--server", f.sock, "--reason", "again", f.name, "h1.example.com/none.jsonl"); code != exitFailed ||
		!strings.Contains(errOut, "already held") || !strings.Contains(errOut, "2 of 2 recordings failed") {
		t.Errorf("hold of a held recording and a bad name: %d %q", code, errOut)
	}
	if code, out, errOut := runCLI("", "release", "--server", f.sock, f.name); code != 0 || out != "released "+f.name+"\n" {
		t.Errorf("release: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI("", "release", "--server", f.sock, f.name); code != exitFailed || !strings.Contains(errOut, "not held") {
		t.Errorf("release again: %d %q", code, errOut)
	}
}
