package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// export --from starts a JSON export with the screen at that time; the
// span options are refused where they cannot apply.
func TestExportSpan(t *testing.T) {
	a := filepath.Join(searchDir(t), "a.jsonl")
	code, out, errOut := runCLI("", "export", "-F", "json", "--filtered", "--from", "2.5", "--to", "1:01:00", a)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var first struct {
		Time       float64
		Kind, Data string
		Cols, Rows int
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Time != 2.5 || first.Kind != "screen" || first.Cols != 80 || first.Rows != 24 || !strings.Contains(first.Data, "line 30") {
		t.Errorf("first event %+v", first)
	}
	// The output at 3 s; those after an hour are after --to.
	if len(lines) != 2 || !strings.Contains(lines[1], `"time":3.000`) {
		t.Errorf("events after the screen: %q", lines[1:])
	}
	for _, args := range [][]string{
		{"-F", "raw", "--from", "1", a},
		{"-F", "text", "--filtered", a},
		{"-F", "json", "--from", "1", "-"},
		{"-F", "json", "--to", "1", "-r", "journal", "rec"},
		{"-F", "json", "--from", "soon", a},
		{"-F", "raw", "--max-bytes", "10", a},
		{"-F", "json", "--max-bytes", "-1", a},
	} {
		if code, _, errOut := runCLI("", append([]string{"export"}, args...)...); code != exitUsageErr {
			t.Errorf("export %q: exit %d, want %d: %s", args, code, exitUsageErr, errOut)
		}
	}
}
