package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// Stream numbers for bulk accounting.
const (
	streamIn = iota
	streamOut
	streamErr
)

// bulkStreams accounts a bulk transfer's streams by size and SHA-256
// instead of recording their payload.
type bulkStreams struct {
	n [3]int64
	h [3]hash.Hash
}

func (b *bulkStreams) add(stream int, p []byte) {
	if b.h[stream] == nil {
		b.h[stream] = sha256.New()
	}
	b.n[stream] += int64(len(p))
	b.h[stream].Write(p)
}

// StreamSum is the metadata kept for one stream of a bulk transfer.
type StreamSum struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func (b *bulkStreams) sums() map[string]StreamSum {
	names := [3]string{"stdin", "stdout", "stderr"}
	out := make(map[string]StreamSum, 3)
	for i, name := range names {
		h := b.h[i]
		if h == nil {
			h = sha256.New()
		}
		out[name] = StreamSum{Bytes: b.n[i], SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	return out
}
