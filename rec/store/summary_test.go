package store

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The first and last messages are found behind broken or truncated lines
// and across the first search block, in a file as in memory.
func TestEdgeMessage(t *testing.T) {
	msg := func(id int, pad string) string {
		return `{"ver":"2.3","host":"h","rec":"r","user":"u","term":"t","session":1,"id":` + string(rune('0'+id)) +
			`,"pos":` + string(rune('0'+id)) + `000,"timing":">1","in_txt":"","in_bin":[],"out_txt":"` + pad + `","out_bin":[]}` + "\n"
	}
	big := strings.Repeat("x", 100<<10)
	data := msg(1, "a") + msg(2, "b") + msg(3, "c")[:50]
	bigMsg := strings.Replace(strings.Replace(msg(2, "b"), `">1"`, `">102400"`, 1), `"out_txt":"b"`, `"out_txt":"`+big+`"`, 1)
	for _, c := range []struct {
		data        string
		first, last int // message ids (their pos in seconds); 0: none
	}{
		{data, 1, 2},
		{msg(1, "a") + bigMsg + "{trunc", 1, 2},
		{"{broken\n\n" + bigMsg + msg(3, "c"), 2, 3},
		{"{broken\n", 0, 0},
		{"", 0, 0},
	} {
		b := []byte(c.data)
		for name, src := range map[string]source{"memory": memSource(b), "reader": dataSource(bytes.NewReader(b))} {
			for _, first := range []bool{true, false} {
				want := c.last
				if first {
					want = c.first
				}
				m, err := edgeMessage(src, int64(len(b)), first)
				switch {
				case err != nil:
					t.Errorf("%s: %v", name, err)
				case want == 0 && m != nil:
					t.Errorf("%s: found message at %v in garbage", name, m.pos)
				case want != 0 && (m == nil || m.pos != time.Duration(want)*time.Second):
					t.Errorf("%s, first %v: message %+v, want id %d", name, first, m, want)
				}
			}
		}
	}
}
