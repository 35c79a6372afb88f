package recorder

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"math/rand"
	"testing"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// BenchmarkRecordOutput pushes terminal-like text (base64 lines ending in
// \r\n, as a pty delivers them) in 4 KiB chunks through the whole recording
// pipeline: encoder, chain with signatures, file sink.
func BenchmarkRecordOutput(b *testing.B) {
	raw := make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(raw)
	var text bytes.Buffer
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		text.WriteString(enc[:76])
		text.WriteString("\r\n")
		enc = enc[76:]
	}
	data := text.Bytes()
	_, key, _ := ed25519.GenerateKey(nil)
	c := conf.DefaultRec()
	c.Limit.Action = "pass" // the pipeline's speed, not the default 1 MiB/s limit
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s, err := sink.OpenFile(b.TempDir()+"/", store.Meta{Host: "h", User: "u", Rec: "r"})
		if err != nil {
			b.Fatal(err)
		}
		o := Options{Conf: c, Meta: tlog.Meta{Host: "h", Rec: "r", User: "u", Term: "xterm", Session: 1}, Sink: s, Key: key, Stderr: nil}
		rec := newRecording(&o, nil)
		for p := data; len(p) > 0; {
			n := min(4095, len(p))
			if err := rec.output(streamOut, p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		if err := rec.finish(); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
