package pgstore

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
)

// benchFiles numbers the benchmarks' recordings: each run of a benchmark
// function stores new ones.
var benchFiles atomic.Int64

func benchFile() string { return fmt.Sprintf("bench-%d.jsonl", benchFiles.Add(1)) }

// Appending a signed recording in pieces of about the given size (whole
// lines), each piece a transaction; bytes/s is the recording's.
func BenchmarkAppend(b *testing.B) {
	s := open(b, pgtest.DB(b))
	key := newKey(b)
	enroll(b, s, host, pubOf(key))
	_, data := bigRecording(b, host, "rec-bench", key, 8<<20)
	for _, size := range []int{2 << 10, 64 << 10, 1 << 20} {
		ps := piecesOf(data, size)
		b.Run(fmt.Sprintf("piece=%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				appendAll(b, s, host, benchFile(), ps)
			}
			b.ReportMetric(float64(len(ps)*b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
	// A collector that did not append the recording's start (restarted,
	// or another one did) verifies all that is stored first.
	b.Run("cold", func(b *testing.B) {
		ls := lines(data)
		last := ls[len(ls)-1]
		b.SetBytes(int64(len(data)))
		for range b.N {
			b.StopTimer()
			file := benchFile()
			appendAll(b, s, host, file, [][]byte{data[:len(data)-len(last)]})
			s.verifier.take(getRecording(b, s, host, file).ID)
			b.StartTimer()
			if _, err := s.Append(testCtx(b), host, file, int64(len(data)-len(last)), last); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	s := open(b, pgtest.DB(b))
	enroll(b, s, host, nil)
	file, data := bigRecording(b, host, "rec-bench", nil, 8<<20)
	appendAll(b, s, host, file, piecesOf(data, 64<<10))
	b.SetBytes(int64(len(data)))
	for range b.N {
		if _, err := s.Read(testCtx(b), host, file, 0, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// piecesOf cuts data into runs of whole lines of about size bytes.
func piecesOf(data []byte, size int) [][]byte {
	var ps [][]byte
	for len(data) > 0 {
		n := min(len(data), size)
		n += bytes.IndexByte(data[n-1:], '\n')
		ps = append(ps, data[:n])
		data = data[n:]
	}
	return ps
}
