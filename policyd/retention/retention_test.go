package retention

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/decide"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/store/storetest"
	"github.com/vigil-rec/vigil/rec/verify"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(days int) time.Time { return now.AddDate(0, 0, -days) }

func testKey(t *testing.T, dir string) (string, ed25519.PrivateKey) {
	t.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	path := filepath.Join(dir, "signing.key")
	if err := keys.WritePrivate(path, k); err != nil {
		t.Fatal(err)
	}
	return path, k
}

func trust(k ed25519.PrivateKey) keys.Set {
	s := keys.Set{}
	s.Add(k.Public().(ed25519.PublicKey))
	return s
}

func mustPolicy(t *testing.T, doc string) *conf.Policy {
	t.Helper()
	p, err := conf.ParsePolicy("policy.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// users is a fake user database; every shell is nologin, as for locked
// accounts, which must not change which rule covers them.
func users(groups map[string][]string) LookupUser {
	return func(name string) (*decide.User, error) {
		if name == "broken" {
			return nil, errors.New("NSS is down")
		}
		g, ok := groups[name]
		if !ok {
			return nil, nil
		}
		return &decide.User{Name: name, Shell: "/usr/sbin/nologin", Groups: g}, nil
	}
}

func TestRules(t *testing.T) {
	p := mustPolicy(t, `[retention]
days = 90

[[rule]]
name = "contractors"
action = "record"
groups = ["contractors"]
retention_days = 30

[[rule]]
name = "evidence"
action = "record"
users = ["mallory"]
priority = 1
retention_days = 0

[[rule]]
name = "web"
action = "record"
users = ["www"]
hosts = ["web*"]
retention_days = 7

[[rule]]
name = "admins"
action = "record"
users = ["carol"]
priority = 50

[[rule]]
name = "carol-long"
action = "record"
users = ["carol"]
retention_days = 999
`)
	r := NewRules(p, users(map[string][]string{
		"alice": {"alice", "contractors"}, "mallory": {"mallory", "contractors"},
		"www": {"www"}, "carol": {"carol"}, "bob": {"bob"},
	}))
	for _, c := range []struct {
		user, host string
		days       int
		by         string
	}{
		{"alice", "h1", 30, `rule "contractors" (policy.toml:4)`},
		{"mallory", "h1", 0, `rule "evidence" (policy.toml:10)`}, // priority 1 decides
		{"www", "web1.example.com", 7, `rule "web"`},
		{"www", "db1.example.com", 90, "[retention] days (policy.toml)"}, // the recording's host counts
		{"carol", "h1", 90, "[retention] days"},                          // the deciding rule has none
		{"bob", "h1", 90, "[retention] days"},
		{"gone", "h1", 90, "user gone no longer exists"},
	} {
		got, err := r.For(c.user, c.host)
		if err != nil || got.Days != c.days || !strings.Contains(got.By, c.by) {
			t.Errorf("%s on %s: %+v %v, want %d days by %s", c.user, c.host, got, err, c.days, c.by)
		}
	}
	if _, err := r.For("broken", "h1"); err == nil || !strings.Contains(err.Error(), "user broken: NSS is down") {
		t.Errorf("lookup error: %v", err)
	}
}

// fixture is a recordings directory with a signing key and a policy.
type fixture struct {
	t       *testing.T
	dir     string
	keyFile string
	key     ed25519.PrivateKey
	rules   *Rules
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	keyFile, key := testKey(t, t.TempDir())
	p := mustPolicy(t, `[retention]
days = 30

[[rule]]
name = "long"
action = "record"
users = ["dave"]
retention_days = 365
`)
	return &fixture{t: t, dir: dir, keyFile: keyFile, key: key,
		rules: NewRules(p, users(map[string][]string{"alice": nil, "dave": nil}))}
}

func (f *fixture) record(rec, user string, start time.Time) string {
	f.t.Helper()
	path, err := storetest.Write(f.dir, storetest.Spec{Rec: rec, User: user, Host: "h1.example.com",
		Start: start, Duration: 90 * time.Second, Key: f.key})
	if err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *fixture) purge(when time.Time, dryRun bool) (*Result, error) {
	return Purge(Options{Dir: f.dir, Now: when, Rules: f.rules, Trusted: trust(f.key), KeyFile: f.keyFile,
		DryRun: dryRun, Host: "h1.example.com", By: "root", Policy: "policy.toml", PolicyHash: "00"})
}

func actions(res *Result) map[string]Action {
	m := map[string]Action{}
	for _, o := range res.Recordings {
		m[o.Rec] = o.Action
	}
	return m
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

func TestPurge(t *testing.T) {
	f := newFixture(t)
	old := f.record("old", "alice", ago(40))
	young := f.record("young", "alice", ago(10))
	held := f.record("held", "alice", ago(40))
	dave := f.record("dave", "dave", ago(40)) // his rule keeps a year
	gone := f.record("gone", "nobody-any-more", ago(40))
	// Copied or restored: old content, fresh mtime. Both clocks must agree.
	touched := f.record("touched", "alice", ago(40))
	if err := os.Chtimes(touched, ago(1), ago(1)); err != nil {
		t.Fatal(err)
	}
	// Torn by a crash mid-write: its end is that of the last whole line.
	torn := f.record("torn", "alice", ago(40))
	tf, err := os.OpenFile(torn, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.WriteString(`{"ver":"2.3","host":"h1.exa`); err != nil || tf.Close() != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(torn, ago(40), ago(40)); err != nil {
		t.Fatal(err)
	}
	// Still being written (an idle session): never deleted.
	open := f.record("open", "alice", ago(40))
	fd, err := os.Open(open)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	// Command logs (rec/spec/commands.md) go with their recordings.
	logs := map[string]string{}
	for _, rec := range []string{"old", "young", "held"} {
		w, err := commands.Create(f.dir, commands.Entry{Rec: rec, Time: ago(40)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		logs[rec] = w.Path()
		w.Close()
	}
	// Not recordings, or not readable as one: left alone.
	junk := filepath.Join(f.dir, "20200101T000000Z-h-u-junk.jsonl")
	notes := filepath.Join(f.dir, "notes.txt")
	link := filepath.Join(f.dir, "20200101T000000Z-h-u-link.jsonl")
	for _, err := range []error{
		os.WriteFile(junk, []byte("not json\n"), 0o640), os.Chtimes(junk, ago(400), ago(400)),
		os.WriteFile(notes, []byte("x"), 0o640), os.Symlink(old, link),
		store.Place(f.dir, store.Hold{Rec: "held", Since: ago(2), By: "root", Reason: "case 7"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	// A dry run decides and deletes nothing.
	res, err := f.purge(now, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{"old": Purged, "gone": Purged, "torn": Purged, "young": Kept, "held": Held, "dave": Kept,
		"touched": Kept, "open": InUse, "": Failed}
	if got := actions(res); len(got) != len(want) || !mapsEqual(got, want) {
		t.Errorf("dry run: %v, want %v", got, want)
	}
	if res.Record != "" || exists(store.PurgedDir(f.dir)) || !exists(old) || !exists(gone) {
		t.Fatalf("dry run changed something: %+v", res)
	}

	res, err = f.purge(now, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res); !mapsEqual(got, want) {
		t.Errorf("purge: %v, want %v", got, want)
	}
	for path, kept := range map[string]bool{old: false, gone: false, torn: false, young: true, held: true, dave: true,
		touched: true, open: true, junk: true, notes: true, link: true, logs["old"]: false, logs["young"]: true, logs["held"]: true} {
		if exists(path) != kept {
			t.Errorf("%s: exists %v, want %v", path, !kept, kept)
		}
	}
	for _, o := range res.Recordings {
		switch o.Rec {
		case "held":
			if o.Hold == nil || o.Hold.Reason != "case 7" {
				t.Errorf("held: %+v", o)
			}
		case "":
			if o.File != junk || !strings.HasPrefix(o.Why, "kept: line 1: not a recording: ") {
				t.Errorf("junk: %+v", o)
			}
		case "dave":
			if o.Days != 365 || !strings.Contains(o.Why, "within its retention until") {
				t.Errorf("dave: %+v", o)
			}
		}
	}

	// The record lists exactly what was deleted, with what identifies it.
	data, err := os.ReadFile(res.Record)
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := store.ParsePurgeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || r.Prev != nil || len(r.Recordings) != 3 || res.Seq != 1 {
		t.Fatalf("record: %+v", r)
	}
	if e := r.Recordings[1]; e.Rec != "torn" || e.State != "MODIFIED" || !e.End.Equal(ago(40).Add(90*time.Second)) {
		t.Errorf("torn: %+v", e)
	}
	e := r.Recordings[0] // in file name order
	start := ago(40)
	if e.Rec != "old" || e.File != old || e.User != "alice" || e.Host != "h1.example.com" || !e.Start.Equal(start) ||
		!e.End.Equal(start.Add(90*time.Second)) || len(e.SHA256) != 64 || len(e.LastHash) != 64 ||
		e.State != "OK" || e.Days != 30 || !strings.HasPrefix(e.By, "[retention] days") || e.Size == 0 {
		t.Errorf("entry: %+v", e)
	}
	if fi, err := os.Stat(res.Record); err != nil || fi.Mode() != 0o640 {
		t.Errorf("record mode: %v %v", fi, err)
	}
	reps, err := store.VerifyPurgeDir(store.PurgedDir(f.dir), trust(f.key))
	if err != nil || len(reps) != 1 || reps[0].State != verify.OK || reps[0].Recordings != 3 {
		t.Errorf("verify: %+v %v", reps, err)
	}

	// Nothing due: no record.
	res, err = f.purge(now, false)
	if err != nil || res.Record != "" {
		t.Errorf("second run: %+v %v", res, err)
	}
}

func mapsEqual(a, b map[string]Action) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Without a record nothing is deleted.
func TestPurgeNeedsRecord(t *testing.T) {
	f := newFixture(t)
	old := f.record("old", "alice", ago(40))

	f.keyFile = filepath.Join(t.TempDir(), "missing.key")
	if _, err := f.purge(now, false); err == nil || !strings.Contains(err.Error(), "nothing purged") || !exists(old) {
		t.Errorf("without key: %v, exists %v", err, exists(old))
	}
	f.keyFile, _ = testKey(t, t.TempDir())
	if err := os.WriteFile(store.PurgedDir(f.dir), nil, 0o640); err != nil { // cannot be a directory
		t.Fatal(err)
	}
	if _, err := f.purge(now, false); err == nil || !strings.Contains(err.Error(), "nothing purged") || !exists(old) {
		t.Errorf("record not writable: %v, exists %v", err, exists(old))
	}
	if err := os.Remove(store.PurgedDir(f.dir)); err != nil {
		t.Fatal(err)
	}
	// A hold that cannot be read may be on this recording.
	if err := os.MkdirAll(store.HoldsDir(f.dir), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store.HoldsDir(f.dir), "old.json"), []byte("{oops"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := f.purge(now, false); err == nil || !strings.Contains(err.Error(), "hold") || !exists(old) {
		t.Errorf("damaged hold: %v, exists %v", err, exists(old))
	}
}

// chain makes three purge records, one a day.
func chain(t *testing.T) (*fixture, []string) {
	f := newFixture(t)
	var files []string
	for i := range 3 {
		f.record("r"+string(rune('a'+i)), "alice", ago(40-i))
		res, err := f.purge(now.AddDate(0, 0, i), false)
		if err != nil || res.Record == "" || res.Seq != uint64(i+1) {
			t.Fatalf("purge %d: %+v %v", i, res, err)
		}
		files = append(files, res.Record)
	}
	return f, files
}

func states(t *testing.T, f *fixture, trusted keys.Set) string {
	t.Helper()
	reps, err := store.VerifyPurgeDir(store.PurgedDir(f.dir), trusted)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, r := range reps {
		s = append(s, filepath.Base(r.File)[17:]+"="+r.StateName)
	}
	return strings.Join(s, " ")
}

func TestRecordChain(t *testing.T) {
	f, files := chain(t)
	if got := states(t, f, trust(f.key)); got != "000001.json=OK 000002.json=OK 000003.json=OK" {
		t.Fatalf("chain: %s", got)
	}
	data, _ := os.ReadFile(files[2])
	if _, r, err := store.ParsePurgeRecord(data); err != nil || r.Prev == nil || r.Prev.File != filepath.Base(files[1]) {
		t.Fatalf("link: %+v %v", r, err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	if got := states(t, f, trust(other)); got != "000001.json=UNKNOWN_KEY 000002.json=UNKNOWN_KEY 000003.json=UNKNOWN_KEY" {
		t.Errorf("untrusted key: %s", got)
	}
}

func TestRecordTampering(t *testing.T) {
	edit := func(path string, f func([]byte) []byte) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, f *fixture, files []string)
		want   string
	}{
		{"edited middle", func(t *testing.T, f *fixture, files []string) {
			edit(files[1], func(b []byte) []byte { return bytes.Replace(b, []byte(`"alice"`), []byte(`"alicf"`), 1) })
		}, "000001.json=OK 000002.json=MODIFIED 000003.json=OK"},
		{"edited last", func(t *testing.T, f *fixture, files []string) {
			edit(files[2], func(b []byte) []byte { return bytes.Replace(b, []byte(`"size":`), []byte(`"size":1`), 1) })
		}, "000001.json=OK 000002.json=OK 000003.json=MODIFIED"},
		{"pretty-printed", func(t *testing.T, f *fixture, files []string) {
			edit(files[2], func(b []byte) []byte { return bytes.Replace(b, []byte(`{"body":`), []byte(`{"body": `), 1) })
		}, "000001.json=OK 000002.json=OK 000003.json=MODIFIED"},
		{"deleted middle", func(t *testing.T, f *fixture, files []string) {
			os.Remove(files[1])
		}, "000001.json=OK 000003.json=MISSING"},
		{"deleted first", func(t *testing.T, f *fixture, files []string) {
			os.Remove(files[0])
		}, "000002.json=MISSING 000003.json=OK"},
		// The newest record has no successor to miss it: deleting it
		// cannot be seen from the records (spec: compare with the
		// journal's copy of the purge output).
		{"deleted last (not detectable)", func(t *testing.T, f *fixture, files []string) {
			os.Remove(files[2])
		}, "000001.json=OK 000002.json=OK"},
		{"unsigned last", func(t *testing.T, f *fixture, files []string) {
			edit(files[2], func(b []byte) []byte {
				var env store.Signed
				if err := json.Unmarshal(b, &env); err != nil {
					t.Fatal(err)
				}
				return store.Signed{Body: env.Body}.Encode()
			})
		}, "000001.json=OK 000002.json=OK 000003.json=UNSIGNED"},
		// Stripping a signature in the middle changes the file its
		// successor linked to.
		{"unsigned middle", func(t *testing.T, f *fixture, files []string) {
			edit(files[1], func(b []byte) []byte {
				var env store.Signed
				if err := json.Unmarshal(b, &env); err != nil {
					t.Fatal(err)
				}
				return store.Signed{Body: env.Body}.Encode()
			})
		}, "000001.json=OK 000002.json=MODIFIED 000003.json=OK"},
		{"copied", func(t *testing.T, f *fixture, files []string) {
			data, _ := os.ReadFile(files[1])
			os.WriteFile(filepath.Join(filepath.Dir(files[1]), "20300101T000000Z-000009.json"), data, 0o640)
		}, "000001.json=OK 000002.json=MODIFIED 000009.json=MODIFIED 000003.json=OK"},
		{"garbage", func(t *testing.T, f *fixture, files []string) {
			os.WriteFile(filepath.Join(filepath.Dir(files[1]), "20300101T000000Z-000004.json"), []byte("{}\n"), 0o640)
		}, "000001.json=OK 000002.json=OK 000003.json=OK 000004.json=MODIFIED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, files := chain(t)
			c.tamper(t, f, files)
			if got := states(t, f, trust(f.key)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// The next record chains to the newest one even when an older one is bad.
func TestRecordAppendAfterDamage(t *testing.T) {
	f, files := chain(t)
	if err := os.WriteFile(files[0], []byte("junk"), 0o640); err != nil {
		t.Fatal(err)
	}
	f.record("rz", "alice", ago(50))
	res, err := f.purge(now.AddDate(0, 0, 5), false)
	if err != nil || res.Seq != 4 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := states(t, f, trust(f.key)); got != "000002.json=OK 000003.json=OK 000004.json=OK 000001.json=MODIFIED" {
		t.Errorf("%s", got)
	}
}
