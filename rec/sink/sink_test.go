package sink

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/rec/msg"
)

// testRec is the recording ID the tests' messages carry.
const testRec = "880036822e704a8f8b7f642af594eba7-1a22-218ba"

// tlogMessage returns a valid tlog JSON v2.3 message (tlog-play accepts it)
// whose output is out, and the matching msg.Message.
func tlogMessage(t testing.TB, rec string, id uint64, out string) *msg.Message {
	t.Helper()
	txt, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf(`{"ver":"2.3","host":"vm","rec":%q,"user":"rüdiger","term":"xterm","session":7,"id":%d,"pos":%d,"time":1795349830.%03d,"timing":">%d","in_txt":"","in_bin":[],"out_txt":%s,"out_bin":[]}`+"\n",
		rec, id, id, id, len([]rune(out)), txt)
	return &msg.Message{Line: []byte(line), Rec: rec, User: "rüdiger", Session: 7, ID: id}
}

// checkLines parses data as JSON lines and checks they are messages want,
// in order.
func checkLines(t testing.TB, data string, want []*msg.Message) {
	t.Helper()
	if !strings.HasSuffix(data, "\n") {
		t.Fatalf("data does not end in a newline: ...%q", tail(data))
	}
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d is not valid JSON: %q", i+1, tail(l))
		}
		if l+"\n" != string(want[i].Line) {
			t.Fatalf("line %d = %q, want %q", i+1, tail(l), tail(string(want[i].Line)))
		}
	}
}

func tail(s string) string {
	if len(s) > 80 {
		return "..." + s[len(s)-80:]
	}
	return s
}
