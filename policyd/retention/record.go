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

// envelope is the record file: the body's exact bytes and the signature.
type envelope struct {
	Body json.RawMessage `json:"body"`
	Key  string          `json:"key,omitempty"`
	Sig  string          `json:"sig,omitempty"`
}

var recordName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9]+\.json$`)

// recordSigInput is what a record's signature covers.
func recordSigInput(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append([]byte(recordDomain), hex.EncodeToString(sum[:])...)
}

// encodeRecord lays a record file out canonically; a file is authentic only
// if it is byte for byte what encodeRecord makes of its content.
func encodeRecord(env envelope) []byte {
	var b bytes.Buffer
	b.WriteString(`{"body":`)
	b.Write(env.Body)
	if env.Key != "" || env.Sig != "" {
		fmt.Fprintf(&b, `,"key":%q,"sig":%q`, env.Key, env.Sig)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// storedRecord is a record file as found in the directory.
type storedRecord struct {
	name string
	hash string // SHA-256 of the file
	env  envelope
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

func parseRecord(data []byte, env *envelope) (*Record, error) {
	if err := json.Unmarshal(data, env); err != nil {
		return nil, fmt.Errorf("not a purge record: %w", err)
	}
	if !bytes.Equal(data, encodeRecord(*env)) {
		return nil, errors.New("not in the canonical layout (edited?)")
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
	env := envelope{Body: body, Key: keys.ID(key.Public().(ed25519.PublicKey))}
	env.Sig = hex.EncodeToString(ed25519.Sign(key, recordSigInput(body)))
	data := encodeRecord(env)
	name := fmt.Sprintf("%s-%06d.json", r.Time.UTC().Format("20060102T150405Z"), r.Seq)
	if err := store.CreateFile(dir, name, data); err != nil {
		return "", "", fmt.Errorf("purge record: %w", err)
	}
	sum := sha256.Sum256(data)
	return filepath.Join(dir, name), hex.EncodeToString(sum[:]), nil
}

// RecordReport is the verification result of one purge record.
type RecordReport struct {
	File       string       `json:"file"`
	State      verify.State `json:"-"`
	StateName  string       `json:"state"`
	Detail     string       `json:"detail,omitempty"`
	Seq        uint64       `json:"seq,omitempty"`
	Time       time.Time    `json:"time,omitzero"`
	Recordings int          `json:"recordings"`
	Key        string       `json:"key,omitempty"`
}

func (r *RecordReport) note(s verify.State, format string, args ...any) {
	if s > r.State {
		r.State, r.Detail = s, fmt.Sprintf(format, args...)
	}
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
			rep.note(verify.Modified, "%v", s.err)
			continue
		}
		rep.Seq, rep.Time, rep.Recordings, rep.Key = s.rec.Seq, s.rec.Time, len(s.rec.Recordings), s.env.Key
		if j, dup := bySeq[s.rec.Seq]; dup {
			rep.note(verify.Modified, "seq %d is also that of %s", s.rec.Seq, stored[j].name)
			reports[j].note(verify.Modified, "seq %d is also that of %s", s.rec.Seq, s.name)
		}
		bySeq[s.rec.Seq] = i
		checkSignature(rep, s, trusted)
	}
	for i, s := range stored {
		if s.rec != nil {
			checkLink(reports, i, s, stored, byName)
		}
	}
	for i := range reports {
		reports[i].StateName = reports[i].State.String()
	}
	return reports, nil
}

func checkSignature(rep *RecordReport, s *storedRecord, trusted keys.Set) {
	switch pub, known := trusted[s.env.Key]; {
	case s.env.Key == "" && s.env.Sig == "":
		rep.note(verify.Unsigned, "no signature")
	case !known:
		rep.note(verify.UnknownKey, "signed by key %s, which is not trusted", s.env.Key)
	default:
		sig, err := hex.DecodeString(s.env.Sig)
		if err != nil || !ed25519.Verify(pub, recordSigInput(s.env.Body), sig) {
			rep.note(verify.Modified, "the signature does not verify: the record was changed after it was signed")
		}
	}
}

// checkLink checks that record i links to the record before it.
func checkLink(reports []RecordReport, i int, s *storedRecord, stored []*storedRecord, byName map[string]int) {
	rep, prev := &reports[i], s.rec.Prev
	switch {
	case s.rec.Seq == 1 && prev != nil:
		rep.note(verify.Modified, "seq 1 links to %s", prev.File)
	case s.rec.Seq == 1:
	case prev == nil:
		rep.note(verify.Modified, "seq %d does not link to its predecessor", s.rec.Seq)
	default:
		j, ok := byName[prev.File]
		if !ok {
			rep.note(verify.Missing, "the record before it, %s (seq %d), is missing", prev.File, s.rec.Seq-1)
			return
		}
		p := stored[j]
		if p.hash != prev.SHA256 {
			reports[j].note(verify.Modified, "differs from what the next record, %s, recorded of it", s.name)
		} else if p.rec == nil || p.rec.Seq != s.rec.Seq-1 {
			rep.note(verify.Modified, "links to %s, which is not seq %d", prev.File, s.rec.Seq-1)
		}
	}
}
