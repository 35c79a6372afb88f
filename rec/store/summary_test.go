package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
			t.Errorf("found message at %v in garbage", m.pos)
		case c.id != 0 && (m == nil || m.pos != time.Duration(c.id)*time.Second):
			t.Errorf("last message %+v, want id %d", m, c.id)
		}
	}
}
