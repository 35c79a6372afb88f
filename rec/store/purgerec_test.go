package store

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// A record written reads back as written, chained to the one before, and
// verifies; one changed in any way does not.
func TestPurgeRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := testKey(1)
	want := PurgeRecord{Time: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Host: "h1", By: "root", Policy: "/etc/vigil/policy.toml",
		PolicyHash: "00", Recordings: []PurgeEntry{{PurgedFile: PurgedFile{File: "/var/log/vigil/a.jsonl", Rec: "a", User: "alice",
			Host: "h1", Size: 10, SHA256: "ab", State: "OK"}, Retention: Retention{Days: 30, By: "[retention] days (x)"}}}}
	var paths []string
	for range 2 {
		r := want
		path, hash, err := AppendPurgeRecord(dir, &r, key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil || SHA256Hex(data) != hash {
			t.Fatalf("%s: %v, hash %s", path, err, hash)
		}
		paths = append(paths, path)
	}
	data, _ := os.ReadFile(paths[1])
	_, got, err := ParsePurgeRecord(data)
	if err != nil || got.Seq != 2 || got.Prev == nil || got.Prev.File != filepath.Base(paths[0]) ||
		got.Recordings[0].Rec != "a" || got.Recordings[0].Days != 30 || !got.Time.Equal(want.Time) {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	trusted := keys.Set{}
	trusted.Add(key.Public().(ed25519.PublicKey))
	reps, err := VerifyPurgeDir(dir, trusted)
	if err != nil || len(reps) != 2 || reps[0].State != verify.OK || reps[1].State != verify.OK || reps[0].File != paths[0] {
		t.Fatalf("verify: %+v, %v", reps, err)
	}
	for i := range data {
		if data[i] == '\n' {
			continue
		}
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		files := []PurgeRecordFile{{Name: filepath.Base(paths[1]), Data: bad}}
		if r := VerifyPurgeRecords(files, trusted); r[0].State == verify.OK {
			t.Fatalf("byte %d changed: %s", i, r[0].StateName)
		}
	}
}

// Whatever the bytes, parsing and verifying never panic, and what parses
// is exactly what its parts encode to.
func FuzzPurgeRecord(f *testing.F) {
	dir := f.TempDir()
	r := PurgeRecord{Time: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Host: "h1",
		Recordings: []PurgeEntry{{PurgedFile: PurgedFile{File: "a", Rec: "a"}}}}
	path, _, err := AppendPurgeRecord(dir, &r, testKey(1))
	if err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"body":{"v":1,"seq":1,"prev":null}}` + "\n"))
	trusted := keys.Set{}
	trusted.Add(testKey(1).Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, rec, err := ParsePurgeRecord(data)
		if err == nil && (rec == nil || !bytes.Equal(env.Encode(), data)) {
			t.Fatalf("parsed, but encodes to %q", env.Encode())
		}
		reps := VerifyPurgeRecords([]PurgeRecordFile{{Name: "x.json", Data: data}, {Name: "y.json", Data: data}}, trusted)
		if len(reps) != 2 {
			t.Fatalf("%d reports", len(reps))
		}
		if err != nil && reps[0].State != verify.Modified {
			t.Fatalf("unparsable, yet %s", reps[0].StateName)
		}
	})
}
