package main

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/keys"
)

// 1000 random single-byte edits, line deletions and line swaps of a signed
// recording, each verified by the command (in this process: the binary
// would take a minute): every one is reported, with the right state for
// deletions and swaps.
func TestVerifyRandomDamage(t *testing.T) {
	dir := t.TempDir()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := filepath.Join(dir, "k.pub")
	if err := keys.WritePublic(pub, priv.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(8, 9))
	var chunks []recgen.Chunk
	for i := range 60 {
		chunks = append(chunks, recgen.Chunk{T: time.Duration(i) * time.Second, Data: recgen.Terminal(nil, rnd, 1500)})
	}
	var rec bytes.Buffer
	seq := func(yield func(recgen.Chunk) bool) {
		for _, c := range chunks {
			if !yield(c) {
				return
			}
		}
	}
	if err := recgen.Write(&rec, recgen.Meta{Rec: "r", User: "u", Host: "h", Start: recgen.Start, Key: priv}, seq); err != nil {
		t.Fatal(err)
	}
	orig := rec.Bytes()
	lines := bytes.SplitAfter(orig, []byte("\n"))
	lines = lines[:len(lines)-1]
	if len(lines) < 20 {
		t.Fatalf("only %d lines", len(lines))
	}
	path := filepath.Join(dir, "rec.jsonl")
	verify := func(data []byte) (int, string) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, _ := runCLI("", "verify", "-k", pub, path)
		return code, out
	}
	if code, out := verify(orig); code != 0 || !strings.Contains(out, ": OK; ") {
		t.Fatalf("the intact recording: %d %s", code, out)
	}
	for i := range 1000 {
		var data []byte
		var what, want string
		switch i % 3 {
		case 0:
			data = bytes.Clone(orig)
			pos := rnd.IntN(len(data))
			data[pos] ^= byte(1 + rnd.IntN(255))
			what = "editing byte " + strconv.Itoa(pos)
		case 1:
			k := rnd.IntN(len(lines))
			n := 1 + rnd.IntN(3)
			n = min(n, len(lines)-k)
			if k == 0 && n == len(lines) {
				n--
			}
			data = bytes.Join(append(append([][]byte{}, lines[:k]...), lines[k+n:]...), nil)
			what, want = "deleting lines from "+strconv.Itoa(k+1), ": MISSING"
			if k+n == len(lines) {
				want = ": TRUNCATED"
			}
		default:
			a, b := rnd.IntN(len(lines)), rnd.IntN(len(lines)-1)
			if b >= a {
				b++
			}
			sw := append([][]byte{}, lines...)
			sw[a], sw[b] = sw[b], sw[a]
			data = bytes.Join(sw, nil)
			what, want = "swapping lines "+strconv.Itoa(a+1)+" and "+strconv.Itoa(b+1), ": REORDERED"
		}
		code, out := verify(data)
		if code != 1 || strings.Contains(out, ": OK;") || !strings.Contains(out, want) {
			t.Fatalf("%s: exit %d, %s", what, code, out)
		}
	}
}
