package retention

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// RecordsDir is where the purge records for the recordings in recDir are
// written: beside the recordings, like the holds.
func RecordsDir(recDir string) string { return filepath.Join(recDir, "purged") }

// RecordVersion is the format version of purge records (rec/spec/purge.md).
const RecordVersion = 1

// recordDomain prefixes what a purge record's signature covers, so that no
// signature of the recordings' chain can pass for one of a record.
const recordDomain = "vigil-purge-v1\n"

// Record is the body of a purge record: what one purge run deleted.
type Record struct {
	V          int       `json:"v"`
	Seq        uint64    `json:"seq"`  // 1 for the first record in the directory
	Prev       *Link     `json:"prev"` // the record before, nil for seq 1
	Time       time.Time `json:"time"` // when purge ran
	Host       string    `json:"host"`
	By         string    `json:"by"`
	Policy     string    `json:"policy"`
	PolicyHash string    `json:"policy_sha256"`
	Recordings []Entry   `json:"recordings"`
}

// Link names the previous record and the SHA-256 of its whole file.
type Link struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// Entry is one purged recording.
type Entry struct {
	Recording
	Period
}

var recordName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9]+\.json$`)

// storedRecord is a record file as found in the directory.
type storedRecord struct {
	name string
	hash string // SHA-256 of the file
	env  store.Signed
	rec  *Record // nil when the file does not parse
	err  error
}

func readRecords(dir string) ([]*storedRecord, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*storedRecord
	for _, e := range entries {
		if !recordName.MatchString(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		s := &storedRecord{name: e.Name(), hash: hex.EncodeToString(sum[:])}
		s.rec, s.err = parseRecord(data, &s.env)
		out = append(out, s)
	}
	return out, nil
}

func parseRecord(data []byte, env *store.Signed) (*Record, error) {
	var err error
	if *env, err = store.ParseSigned(data); err != nil {
		return nil, err
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(env.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if r.V != RecordVersion {
		return nil, fmt.Errorf("format version %d, want %d", r.V, RecordVersion)
	}
	return &r, nil
}

// appendRecord writes r as the next record in dir, chained to the record
// with the highest seq, signed with key; it returns the file's path and
// SHA-256. r.Seq and r.Prev are set here.
func appendRecord(dir string, r *Record, key ed25519.PrivateKey) (path, hash string, err error) {
	if err := store.EnsureSubdir(dir); err != nil {
		return "", "", fmt.Errorf("purge records: %w", err)
	}
	stored, err := readRecords(dir)
	if err != nil {
		return "", "", fmt.Errorf("purge records: %w", err)
	}
	r.V, r.Seq, r.Prev = RecordVersion, 1, nil
	for _, s := range stored {
		if s.rec != nil && s.rec.Seq >= r.Seq {
			r.Seq, r.Prev = s.rec.Seq+1, &Link{File: s.name, SHA256: s.hash}
		}
	}
	body, err := json.Marshal(r)
	if err != nil {
		return "", "", err
	}
	data := store.Sign(recordDomain, body, key)
	name := fmt.Sprintf("%s-%06d.json", r.Time.UTC().Format("20060102T150405Z"), r.Seq)
	if err := store.CreateFile(dir, name, data); err != nil {
		return "", "", fmt.Errorf("purge record: %w", err)
	}
	sum := sha256.Sum256(data)
	return filepath.Join(dir, name), hex.EncodeToString(sum[:]), nil
}

// RecordReport is the verification result of one purge record.
type RecordReport struct {
	File string `json:"file"`
	store.Verdict
	Seq        uint64    `json:"seq,omitempty"`
	Time       time.Time `json:"time,omitzero"`
	Recordings int       `json:"recordings"`
	Key        string    `json:"key,omitempty"`
}

// VerifyRecords checks every purge record in dir (see RecordsDir): its
// signature against the trusted keys, and the chain. States, worst first:
// MODIFIED (the file is not what was signed, not in the canonical layout,
// not what its successor linked to, or its seq clashes), MISSING (the
// record it links to is gone), UNKNOWN_KEY, UNSIGNED, OK. Records come in
// chain order, unreadable ones last. The error is for a directory or file
// that cannot be read.
func VerifyRecords(dir string, trusted keys.Set) ([]RecordReport, error) {
	stored, err := readRecords(dir)
	if err != nil {
		return nil, fmt.Errorf("purge records: %w", err)
	}
	sort.SliceStable(stored, func(i, j int) bool {
		a, b := stored[i], stored[j]
		if (a.rec == nil) != (b.rec == nil) {
			return b.rec == nil
		}
		if a.rec != nil && a.rec.Seq != b.rec.Seq {
			return a.rec.Seq < b.rec.Seq
		}
		return a.name < b.name
	})
	reports := make([]RecordReport, len(stored))
	byName := map[string]int{}
	bySeq := map[uint64]int{}
	for i, s := range stored {
		byName[s.name] = i
		rep := &reports[i]
		rep.File = filepath.Join(dir, s.name)
		if s.rec == nil {
			rep.Note(verify.Modified, "%v", s.err)
			continue
		}
		rep.Seq, rep.Time, rep.Recordings, rep.Key = s.rec.Seq, s.rec.Time, len(s.rec.Recordings), s.env.Key
		if j, dup := bySeq[s.rec.Seq]; dup {
			rep.Note(verify.Modified, "seq %d is also that of %s", s.rec.Seq, stored[j].name)
			reports[j].Note(verify.Modified, "seq %d is also that of %s", s.rec.Seq, s.name)
		}
		bySeq[s.rec.Seq] = i
		s.env.Check(recordDomain, trusted, &rep.Verdict)
	}
	for i, s := range stored {
		if s.rec != nil {
			checkLink(reports, i, s, stored, byName)
		}
	}
	for i := range reports {
		reports[i].Named()
	}
	return reports, nil
}

// checkLink checks that record i links to the record before it.
func checkLink(reports []RecordReport, i int, s *storedRecord, stored []*storedRecord, byName map[string]int) {
	rep, prev := &reports[i], s.rec.Prev
	switch {
	case s.rec.Seq == 1 && prev != nil:
		rep.Note(verify.Modified, "seq 1 links to %s", prev.File)
	case s.rec.Seq == 1:
	case prev == nil:
		rep.Note(verify.Modified, "seq %d does not link to its predecessor", s.rec.Seq)
	default:
		j, ok := byName[prev.File]
		if !ok {
			rep.Note(verify.Missing, "the record before it, %s (seq %d), is missing", prev.File, s.rec.Seq-1)
			return
		}
		p := stored[j]
		if p.hash != prev.SHA256 {
			reports[j].Note(verify.Modified, "differs from what the next record, %s, recorded of it", s.name)
		} else if p.rec == nil || p.rec.Seq != s.rec.Seq-1 {
			rep.Note(verify.Modified, "links to %s, which is not seq %d", prev.File, s.rec.Seq-1)
		}
	}
}
