package store

// Purge records (format "vigil-purge" v1, rec/spec/purge.md §4–5): the
// signed, chained record of what one purge deleted. Written by the host's
// purge (policyd/retention), read back by vigilctl verify-purges, shipped
// by vigil-ship and kept and checked by the collector: writer, parser and
// chain check live here, side by side.

import (
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
	"github.com/vigil-rec/vigil/rec/verify"
)

// PurgedDir is where the purge records for the recordings in recDir are
// written: beside the recordings, like the holds.
func PurgedDir(recDir string) string { return filepath.Join(recDir, "purged") }

// PurgeRecordVersion is the format version of purge records.
const PurgeRecordVersion = 1

// PurgeDomain prefixes what a purge record's signature covers, so that no
// signature of the recordings' chain can pass for one of a record.
const PurgeDomain = "vigil-purge-v1\n"

// PurgeRecord is the body of a purge record: what one purge run deleted.
type PurgeRecord struct {
	V          int          `json:"v"`
	Seq        uint64       `json:"seq"`  // 1 for the first record in the directory
	Prev       *PurgeLink   `json:"prev"` // the record before, nil for seq 1
	Time       time.Time    `json:"time"` // when purge ran
	Host       string       `json:"host"`
	By         string       `json:"by"`
	Policy     string       `json:"policy"`
	PolicyHash string       `json:"policy_sha256"`
	Recordings []PurgeEntry `json:"recordings"`
}

// PurgeLink names the previous record and the SHA-256 of its whole file.
type PurgeLink struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// PurgeEntry is one purged recording and why it was due.
type PurgeEntry struct {
	PurgedFile
	Retention
}

// PurgedFile is what a purge record says of one recording file.
type PurgedFile struct {
	File  string    `json:"file"`
	Rec   string    `json:"rec"`
	User  string    `json:"user"`
	Host  string    `json:"host"`
	Start time.Time `json:"start,omitzero"` // zero: the format has no wall-clock time (tlog 2.2)
	// End is when the last message's last packet happened, by the
	// recording's own (chained) time fields; zero when unknown.
	End      time.Time `json:"end,omitzero"`
	Modified time.Time `json:"modified,omitzero"` // the file's mtime
	Size     int64     `json:"size"`
	// The SHA-256 of the file, the chain hash of its last message (if that
	// is an anchor) and its integrity state as vigil-play verify reports
	// it.
	SHA256   string `json:"sha256,omitempty"`
	LastHash string `json:"last_hash,omitempty"`
	State    string `json:"state,omitempty"`
}

// Retention is how long a recording is kept after it ends, and why.
type Retention struct {
	Days int    `json:"retention_days"`         // 0: forever
	By   string `json:"retention_by,omitempty"` // the rule, or [retention] days
}

var purgeRecordName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9]+\.json$`)

// IsPurgeRecordName tells whether name is that of a purge record file.
func IsPurgeRecordName(name string) bool { return purgeRecordName.MatchString(name) }

// ParsePurgeRecord reads a purge record file's bytes: the signed line, and
// its body. Only the canonical layout, format version 1 and no unknown
// member are accepted.
func ParsePurgeRecord(data []byte) (Signed, *PurgeRecord, error) {
	env, err := ParseSigned(data)
	if err != nil {
		return Signed{}, nil, err
	}
	var r PurgeRecord
	if err := env.DecodeBody(&r, func() int { return r.V }, PurgeRecordVersion); err != nil {
		return env, nil, err
	}
	return env, &r, nil
}

// PurgeRecordFile is a purge record file: its name and bytes.
type PurgeRecordFile struct {
	Name string
	Data []byte
}

// ReadPurgeRecords reads the purge record files in dir (see PurgedDir),
// in name order; a missing dir has none.
func ReadPurgeRecords(dir string) ([]PurgeRecordFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []PurgeRecordFile
	for _, e := range entries {
		if !IsPurgeRecordName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, PurgeRecordFile{Name: e.Name(), Data: data})
	}
	return out, nil
}

// AppendPurgeRecord writes r as the next record in dir, chained to the
// record with the highest seq, signed with key; it returns the file's path
// and SHA-256. r.V, r.Seq and r.Prev are set here.
func AppendPurgeRecord(dir string, r *PurgeRecord, key ed25519.PrivateKey) (path, hash string, err error) {
	if err := EnsureSubdir(dir); err != nil {
		return "", "", fmt.Errorf("purge records: %w", err)
	}
	files, err := ReadPurgeRecords(dir)
	if err != nil {
		return "", "", fmt.Errorf("purge records: %w", err)
	}
	r.V, r.Seq, r.Prev = PurgeRecordVersion, 1, nil
	for _, f := range files {
		if _, old, err := ParsePurgeRecord(f.Data); err == nil && old.Seq >= r.Seq {
			r.Seq, r.Prev = old.Seq+1, &PurgeLink{File: f.Name, SHA256: SHA256Hex(f.Data)}
		}
	}
	body, err := json.Marshal(r)
	if err != nil {
		return "", "", err
	}
	data := Sign(PurgeDomain, body, key)
	name := fmt.Sprintf("%s-%06d.json", r.Time.UTC().Format("20060102T150405Z"), r.Seq)
	if err := CreateFile(dir, name, data); err != nil {
		return "", "", fmt.Errorf("purge record: %w", err)
	}
	return filepath.Join(dir, name), SHA256Hex(data), nil
}

// SHA256Hex is the lowercase hex SHA-256 of data: how signed records name
// what they link to and what they cover.
func SHA256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// PurgeRecordReport is the verification result of one purge record.
type PurgeRecordReport struct {
	File string `json:"file"`
	Verdict
	Seq        uint64    `json:"seq,omitempty"`
	Time       time.Time `json:"time,omitzero"`
	Recordings int       `json:"recordings"`
	Key        string    `json:"key,omitempty"`
}

// parsedRecord is a purge record file as VerifyPurgeRecords sees it.
type parsedRecord struct {
	PurgeRecordFile
	hash string // SHA-256 of the file
	env  Signed
	rec  *PurgeRecord // nil when the file does not parse
	err  error
}

// VerifyPurgeRecords checks purge record files, all those of one
// directory (or of one host, at the collector): each one's signature
// against the trusted keys, and the chain. States, worst first: MODIFIED
// (the file is not what was signed, not in the canonical layout, not what
// its successor linked to, or its seq clashes), MISSING (the record it
// links to is not among files), UNKNOWN_KEY, UNSIGNED, OK. Reports come in
// chain order, unreadable records last, named by the files' names.
func VerifyPurgeRecords(files []PurgeRecordFile, trusted keys.Set) []PurgeRecordReport {
	stored := make([]*parsedRecord, len(files))
	for i, f := range files {
		s := &parsedRecord{PurgeRecordFile: f, hash: SHA256Hex(f.Data)}
		s.env, s.rec, s.err = ParsePurgeRecord(f.Data)
		stored[i] = s
	}
	sort.SliceStable(stored, func(i, j int) bool {
		a, b := stored[i], stored[j]
		if (a.rec == nil) != (b.rec == nil) {
			return b.rec == nil
		}
		if a.rec != nil && a.rec.Seq != b.rec.Seq {
			return a.rec.Seq < b.rec.Seq
		}
		return a.Name < b.Name
	})
	reports := make([]PurgeRecordReport, len(stored))
	byName := map[string]int{}
	bySeq := map[uint64]int{}
	for i, s := range stored {
		byName[s.Name] = i
		rep := &reports[i]
		rep.File = s.Name
		if s.rec == nil {
			rep.Note(verify.Modified, "%v", s.err)
			continue
		}
		rep.Seq, rep.Time, rep.Recordings, rep.Key = s.rec.Seq, s.rec.Time, len(s.rec.Recordings), s.env.Key
		if j, dup := bySeq[s.rec.Seq]; dup {
			rep.Note(verify.Modified, "seq %d is also that of %s", s.rec.Seq, stored[j].Name)
			reports[j].Note(verify.Modified, "seq %d is also that of %s", s.rec.Seq, s.Name)
		}
		bySeq[s.rec.Seq] = i
		s.env.Check(PurgeDomain, trusted, &rep.Verdict)
	}
	for i, s := range stored {
		if s.rec != nil {
			checkPurgeLink(reports, i, s, stored, byName)
		}
	}
	for i := range reports {
		reports[i].Named()
	}
	return reports
}

// VerifyPurgeDir is VerifyPurgeRecords of the records in dir, reports
// naming their paths. The error is for a directory or file that cannot be
// read.
func VerifyPurgeDir(dir string, trusted keys.Set) ([]PurgeRecordReport, error) {
	files, err := ReadPurgeRecords(dir)
	if err != nil {
		return nil, fmt.Errorf("purge records: %w", err)
	}
	reports := VerifyPurgeRecords(files, trusted)
	for i := range reports {
		reports[i].File = filepath.Join(dir, reports[i].File)
	}
	return reports, nil
}

// checkPurgeLink checks that record i links to the record before it.
func checkPurgeLink(reports []PurgeRecordReport, i int, s *parsedRecord, stored []*parsedRecord, byName map[string]int) {
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
			reports[j].Note(verify.Modified, "differs from what the next record, %s, recorded of it", s.Name)
		} else if p.rec == nil || p.rec.Seq != s.rec.Seq-1 {
			rep.Note(verify.Modified, "links to %s, which is not seq %d", prev.File, s.rec.Seq-1)
		}
	}
}
