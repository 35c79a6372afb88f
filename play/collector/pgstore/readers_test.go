package pgstore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
)

// A reader is known by its whole key until revoked; a host's key is never
// a reader's, nor a reader's a host's.
func TestReaders(t *testing.T) {
	s := open(t, pgtest.DB(t))
	ctx := testCtx(t)
	alice, hostKey := newKey(t), newKey(t)
	enroll(t, s, "h1.example.com", pubOf(hostKey))

	if _, err := s.AddReader(ctx, "alice", pubOf(hostKey)); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("AddReader with a host's key: %v, want ErrKeyInUse", err)
	}
	id, err := s.AddReader(ctx, "alice", pubOf(alice))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddReader(ctx, "alice", pubOf(newKey(t))); !errors.Is(err, ErrReaderExists) {
		t.Errorf("AddReader of a name again: %v, want ErrReaderExists", err)
	}
	if _, err := s.AddReader(ctx, "bob", pubOf(alice)); !errors.Is(err, ErrReaderExists) {
		t.Errorf("AddReader of a key again: %v, want ErrReaderExists", err)
	}
	if name, err := s.ReaderByKey(ctx, pubOf(alice)); err != nil || name != "alice" {
		t.Errorf("ReaderByKey: %q %v", name, err)
	}
	if _, err := s.ReaderByKey(ctx, pubOf(hostKey)); !errors.Is(err, ErrUnknownReader) {
		t.Errorf("ReaderByKey of a host's key: %v, want ErrUnknownReader", err)
	}
	token, err := s.NewEnrollToken(ctx, "h2.example.com", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enroll(ctx, "h2.example.com", token, pubOf(alice)); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("Enroll of a reader's key: %v, want ErrKeyInUse", err)
	}

	if err := s.RevokeReader(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReaderByKey(ctx, pubOf(alice)); !errors.Is(err, ErrReaderRevoked) {
		t.Errorf("ReaderByKey after revoking: %v, want ErrReaderRevoked", err)
	}
	if err := s.RevokeReader(ctx, "nobody"); !errors.Is(err, ErrUnknownReader) {
		t.Errorf("RevokeReader of no reader: %v", err)
	}
	rs, err := s.Readers(ctx)
	if err != nil || len(rs) != 1 || rs[0].Name != "alice" || rs[0].KeyID != id || rs[0].RevokedAt == nil {
		t.Errorf("Readers: %+v %v", rs, err)
	}
}

// Read from any offset gives the stored bytes from there, ending at the
// stored length; a follower at the end gets nothing, beyond it an error.
func TestReadFrom(t *testing.T) {
	s := open(t, pgtest.DB(t))
	key := newKey(t)
	const host = "h1.example.com"
	enroll(t, s, host, pubOf(key))
	file, data := bigRecording(t, host, "rec-1", key, 64<<10)
	appendAll(t, s, host, file, pieces(data, 4096, rand.New(rand.NewPCG(3, 4))))
	for _, from := range []int64{0, 1, 4095, 4096, int64(len(data)) / 2, int64(len(data)) - 1, int64(len(data))} {
		var b bytes.Buffer
		n, err := s.Read(testCtx(t), host, file, from, &b)
		if err != nil || n != int64(len(data))-from || !bytes.Equal(b.Bytes(), data[from:]) {
			t.Errorf("Read from %d: %d bytes, %v; equal %v", from, n, err, bytes.Equal(b.Bytes(), data[from:]))
		}
	}
	if _, err := s.Read(testCtx(t), host, file, int64(len(data))+1, &bytes.Buffer{}); !errors.Is(err, ErrBadOffset) {
		t.Error("Read beyond the end: no error")
	}
	if _, err := s.Read(testCtx(t), host, "other.jsonl", 0, &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read of no recording: %v, want ErrNotFound", err)
	}
}
