package listing

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

func TestParseWhen(t *testing.T) {
	for in, want := range map[string]time.Time{
		"@1700000000":               time.Unix(1700000000, 0),
		"2023-11-14T22:13:20Z":      time.Unix(1700000000, 0),
		"2023-11-14":                time.Date(2023, 11, 14, 0, 0, 0, 0, time.Local),
		"2023-11-14 22:13":          time.Date(2023, 11, 14, 22, 13, 0, 0, time.Local),
		"2023-11-14 22:13:20":       time.Date(2023, 11, 14, 22, 13, 20, 0, time.Local),
		"2023-11-14T22:13:20+01:00": time.Unix(1700000000-3600, 0),
	} {
		got, err := ParseWhen(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "@12x", "2023-13-01"} {
		if _, err := ParseWhen(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestFormat(t *testing.T) {
	if got := formatDuration(3725.9); got != "1:02:05" {
		t.Errorf("duration %s", got)
	}
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1536: "1.5K", 5 << 20: "5.0M", 3 << 30: "3.0G"} {
		if got := formatSize(n); got != want {
			t.Errorf("size %d: %s, want %s", n, got, want)
		}
	}
}

// A time filter selects the recordings that overlap it, never those
// without wall-clock times.
func TestFilter(t *testing.T) {
	at := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	r := &Row{Summary: store.Summary{User: "u", Host: "h", Rec: "r", Start: at, Duration: 3600}}
	for _, c := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{User: "u", Host: "h", Rec: "r"}, true},
		{Filter{User: "v"}, false},
		{Filter{Host: "g"}, false},
		{Filter{Rec: "s"}, false},
		{Filter{Held: true}, false},
		{Filter{Since: at.Add(30 * time.Minute)}, true},
		{Filter{Since: at.Add(61 * time.Minute)}, false},
		{Filter{Until: at}, true},
		{Filter{Until: at.Add(-time.Second)}, false},
	} {
		if got := c.f.Match(r); got != c.want {
			t.Errorf("%+v: %v", c.f, got)
		}
	}
	if (Filter{Until: at}).Match(&Row{}) {
		t.Error("a recording without a start time matched a time filter")
	}
	if !(Filter{Held: true}).Match(&Row{Hold: &store.Hold{}}) {
		t.Error("a held recording did not match --held")
	}
}

// Files reads each file once and then takes it from the cache; a file
// with no messages is one EMPTY row, one that cannot be read an error.
func TestFiles(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "empty.jsonl"), filepath.Join(dir, "missing.jsonl")}
	if err := os.WriteFile(files[0], recgen.Record("a", []recgen.Chunk{{T: time.Second, Data: []byte("hello")}}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[1], nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var last [2]int64
	l := Lister{Cache: store.OpenCache(keys.Set{}), Progress: func(done, total int64) { last = [2]int64{done, total} }}
	res := l.Files(files)
	if len(res) != 3 || res[0].Err != nil || len(res[0].Rows) != 1 || res[0].Rows[0].Rec != "a" || res[0].Rows[0].State != "UNSIGNED" ||
		res[1].Err != nil || len(res[1].Rows) != 1 || res[1].Rows[0].State != "EMPTY" || !errors.Is(res[2].Err, fs.ErrNotExist) {
		t.Fatalf("%+v", res)
	}
	if size := res[0].Rows[0].Size; last != [2]int64{size, size} {
		t.Errorf("progress %v, want %d of %d bytes", last, size, size)
	}
	l.Progress = func(done, total int64) { t.Errorf("read %d of %d bytes again", done, total) }
	again := l.Files(files[:1])
	if again[0].Err != nil || len(again[0].Rows) != 1 || again[0].Rows[0] != res[0].Rows[0] {
		t.Errorf("from the cache: %+v, want %+v", again[0], res[0])
	}
}

// Holds marks the rows of recordings held in their directory's holds/.
func TestHolds(t *testing.T) {
	dir := t.TempDir()
	if err := store.Place(dir, store.Hold{Rec: "held", Since: time.Now(), By: "auditor", Reason: "case 42"}); err != nil {
		t.Fatal(err)
	}
	var h Holds
	held, free := &Row{Summary: store.Summary{File: filepath.Join(dir, "1.jsonl"), Rec: "held"}}, &Row{Summary: store.Summary{File: filepath.Join(dir, "2.jsonl"), Rec: "free"}}
	h.Mark(held)
	h.Mark(free)
	if held.Hold == nil || held.Hold.Reason != "case 42" || free.Hold != nil {
		t.Errorf("held %+v, free %+v", held.Hold, free.Hold)
	}
}

// Rows are printed oldest first, unknown start times before; JSON has
// "start" null for those.
func TestPrint(t *testing.T) {
	at := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	rows := []Row{
		{Summary: store.Summary{File: "b", Rec: "new", Start: at.Add(time.Hour), State: "OK"}},
		{Summary: store.Summary{File: "c", Rec: "old", Start: at, State: "OK"}},
		{Summary: store.Summary{File: "a", Rec: "none", State: "OK"}},
	}
	Sort(rows)
	var b bytes.Buffer
	if err := Print(&b, rows, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	var starts []string
	for _, l := range lines {
		var v struct {
			Rec   string  `json:"rec"`
			Start *string `json:"start"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		s := "null"
		if v.Start != nil {
			s = *v.Start
		}
		starts = append(starts, v.Rec+" "+s)
	}
	if got := strings.Join(starts, ", "); got != "none null, old 2026-01-02T10:00:00Z, new 2026-01-02T11:00:00Z" {
		t.Errorf("JSON: %s", got)
	}
	b.Reset()
	if err := Print(&b, rows[:1], false); err != nil {
		t.Fatal(err)
	}
	if want := "START  DURATION  USER  HOST  TERM  SIZE  STATE  HELD  REC   FILE\n" +
		"-      0:00:00   -     -     -     0B    OK     -     none  a\n"; b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
