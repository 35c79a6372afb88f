package verify

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/msg"
)

// BenchmarkRecordings verifies a signed recording of 2 KiB messages (the
// recorder's default payload), as vigil-play verify and list do.
func BenchmarkRecordings(b *testing.B) {
	priv := fixedKey(1)
	s := &sink{}
	// A busy session: 2 ms between messages, so that, as in a real one,
	// most lines are plain and a signature comes with each latency flush.
	clk := time.Unix(1700000000, 0)
	w := chain.New(s, priv, time.Second, func() time.Time { return clk })
	text := strings.Repeat("output of a busy terminal \x1b[1mbold\x1b[0m é\r\n", 40)
	for id := uint64(1); id <= 16000; id++ {
		clk = clk.Add(2 * time.Millisecond)
		m := &msg.Message{Line: plainLine("r1", id, text), Rec: "r1", ID: id, Final: id == 16000}
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
	data := s.buf.Bytes()
	trusted := trust(priv)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		reps, err := Recordings(bytes.NewReader(data), trusted)
		if err != nil || len(reps) != 1 || reps[0].State != OK {
			b.Fatalf("%v %v", reps, err)
		}
	}
}
