package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		got, err := parseWhen(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "@12x", "2023-13-01"} {
		if _, err := parseWhen(in); err == nil {
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

// The last message is found behind a truncated last line and across the
// first search block.
func TestLastMessage(t *testing.T) {
	msg := func(id int, pad string) string {
		return `{"ver":"2.3","host":"h","rec":"r","user":"u","term":"t","session":1,"id":` + string(rune('0'+id)) +
			`,"pos":` + string(rune('0'+id)) + `000,"timing":">1","in_txt":"","in_bin":[],"out_txt":"` + pad + `","out_bin":[]}` + "\n"
	}
	big := strings.Repeat("x", 100<<10)
	data := msg(1, "a") + msg(2, "b") + msg(3, "c")[:50]
	bigData := msg(1, "a") + strings.Replace(msg(2, "b"), `">1"`, `">102400"`, 1)
	bigData = strings.Replace(bigData, `"out_txt":"b"`, `"out_txt":"`+big+`"`, 1) + "{trunc"
	for _, c := range []struct {
		data string
		id   uint64
	}{{data, 2}, {bigData, 2}, {"{broken\n", 0}} {
		path := filepath.Join(t.TempDir(), "r.jsonl")
		if err := os.WriteFile(path, []byte(c.data), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := lastMessage(f, int64(len(c.data)))
		f.Close()
		switch {
		case err != nil:
			t.Errorf("%v", err)
		case c.id == 0 && m != nil:
			t.Errorf("found message %d in garbage", m.ID)
		case c.id != 0 && (m == nil || m.ID != c.id):
			t.Errorf("last message %+v, want id %d", m, c.id)
		}
	}
}
