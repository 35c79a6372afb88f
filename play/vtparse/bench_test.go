package vtparse

import (
	"math/rand/v2"
	"testing"

	"github.com/vigil-rec/vigil/play/internal/recgen"
)

// BenchmarkParse is the output of play/player's seeking benchmark:
// escape-heavy listings, some UTF-8 and binary.
func BenchmarkParse(b *testing.B) {
	out := recgen.Terminal(nil, rand.New(rand.NewPCG(9, 9)), 8<<20)
	b.SetBytes(int64(len(out)))
	var p Parser
	n := 0
	for b.Loop() {
		for _, c := range out {
			if p.Next(c) != None {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("nothing parsed")
	}
}
