package pgstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

// The tests share one PostgreSQL server; each has a database of its own.
func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// open opens a Store on connString, closed when t ends.
func open(t testing.TB, connString string) *Store {
	t.Helper()
	s, err := Open(testCtx(t), connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// enroll enrolls host with pub (if not nil).
func enroll(t testing.TB, s *Store, host string, pub ed25519.PublicKey) {
	t.Helper()
	if err := s.AddHost(testCtx(t), host); err != nil {
		t.Fatal(err)
	}
	if pub != nil {
		if _, err := s.AddHostKey(testCtx(t), host, pub); err != nil {
			t.Fatal(err)
		}
	}
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// writeFile makes a recording file with storetest.Write and returns its path
// and bytes.
func writeFile(t testing.TB, spec storetest.Spec) (string, []byte) {
	t.Helper()
	path, err := storetest.Write(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// bigRecording is a signed recording of about n bytes of terminal output,
// in many lines, as a file named file.
func bigRecording(t testing.TB, host, rec string, key ed25519.PrivateKey, n int) (file string, data []byte) {
	t.Helper()
	out := recgen.Terminal(nil, rand.New(rand.NewPCG(uint64(n), 2)), n)
	var b bytes.Buffer
	err := recgen.Write(&b, recgen.Meta{Rec: rec, User: "alice", Host: host, Start: time.Now().Add(-time.Hour), Key: key},
		func(yield func(recgen.Chunk) bool) {
			for _, c := range recgen.Split(out) {
				if !yield(c) {
					return
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	return rec + ".jsonl", b.Bytes()
}

// lines splits data after each '\n'.
func lines(data []byte) [][]byte {
	var ls [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n') + 1
		if i == 0 {
			i = len(data)
		}
		ls = append(ls, data[:i])
		data = data[i:]
	}
	return ls
}

// pieces cuts data into runs of 1 to max whole lines.
func pieces(data []byte, max int, rnd *rand.Rand) [][]byte {
	ls := lines(data)
	var ps [][]byte
	for len(ls) > 0 {
		n := min(len(ls), 1+rnd.IntN(max))
		ps = append(ps, bytes.Join(ls[:n], nil))
		ls = ls[n:]
	}
	return ps
}

// appendAll appends the pieces in order, checking each acknowledgement.
func appendAll(t testing.TB, s *Store, host, file string, ps [][]byte) {
	t.Helper()
	var off int64
	for _, p := range ps {
		acked, err := s.Append(testCtx(t), host, file, off, p)
		if err != nil {
			t.Fatal(err)
		}
		if off += int64(len(p)); acked != off {
			t.Fatalf("append of %d bytes: acked %d, want %d", len(p), acked, off)
		}
	}
}

func read(t testing.TB, s *Store, host, file string) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := s.Read(testCtx(t), host, file, 0, &b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("Read returned %d, wrote %d bytes", n, b.Len())
	}
	return b.Bytes()
}

func getRecording(t testing.TB, s *Store, host, file string) *Recording {
	t.Helper()
	r, err := s.Recording(testCtx(t), host, file)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
