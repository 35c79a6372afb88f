package ldaprules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleSet(t *testing.T) *RuleSet {
	t.Helper()
	rs := build([]entry{
		{dn: "cn=web,ou=vigil", attrs: attrs{attrObjectClass: {"vigilHostGroup"}, attrCN: {"web"}, attrHost: {"web*", "www"}}},
		{dn: "cn=r1,ou=vigil", attrs: attrs{attrObjectClass: {"vigilRecordingRule"}, attrCN: {"r1"}, attrAction: {"record"},
			attrUser: {"alice"}, attrHostGroup: {"web"}, attrService: {"sshd"},
			attrRecSetting: {"log.input=true", "limit.rate=4096", "notice=Recorded.\nLine two, with = sign", "writer=journal"}}},
		{dn: "cn=r2,ou=vigil", attrs: attrs{attrObjectClass: {"vigilRecordingRule"}, attrCN: {"r2"}, attrAction: {"norecord"},
			attrPriority: {"7"}, attrGroup: {"ops"}}},
	})
	if len(rs.Skipped) > 0 || len(rs.Rules) != 2 {
		t.Fatalf("sample: %+v", rs)
	}
	rs.Server, rs.Fetched = "ldap://ldap.example.com/", time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	return rs
}

func TestCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ldap-rules.json")
	// An old cache with loose permissions is replaced, not rewritten.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs := sampleSet(t)
	if err := SaveCache(path, rs); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache mode %v, %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	got, err := LoadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRules(got, rs) || got.Server != rs.Server || !got.Fetched.Equal(rs.Fetched) {
		t.Errorf("loaded %+v\nsaved %+v", got, rs)
	}
	if a, b := string(got.Rules[0].Rec.JSON()), string(rs.Rules[0].Rec.JSON()); a != b {
		t.Errorf("rec %s, saved %s", a, b)
	}
	// Content, not time, makes sets differ.
	other := sampleSet(t)
	other.Fetched = time.Now()
	if !sameRules(rs, other) {
		t.Error("sets differing only in Fetched compare different")
	}
	other.Rules[1].Priority++
	if sameRules(rs, other) {
		t.Error("sets differing in a priority compare equal")
	}
	if !sameRules(&RuleSet{}, build(nil)) {
		t.Error("empty sets compare different")
	}
}

func TestCacheErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadCache(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing cache: %v", err)
	}
	if err := SaveCache(filepath.Join(dir, "no/such/dir/cache.json"), sampleSet(t)); err == nil || !strings.Contains(err.Error(), "ldap cache") {
		t.Errorf("unwritable cache: %v", err)
	}
	path := filepath.Join(dir, "c.json")
	if err := SaveCache(path, sampleSet(t)); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"not json", `{`, `[`, "ldap cache " + path + ": invalid character"},
		{"version", `"version": 1`, `"version": 2`, "format version 2, want 1"},
		{"action", `"action": "norecord"`, `"action": "perhaps"`, "cn=r2,ou=vigil: vigilAction: must be"},
		{"rec", `"log.input=true"`, `"log.input=sometimes"`, "cn=r1,ou=vigil: vigilRecSetting: log.input: must be true/false"},
		{"origin", `"origin": "ldap: cn=r2,ou=vigil"`, `"origin": "policy.toml:3"`, `origin "policy.toml:3" is not an LDAP DN`},
		{"name", `"name": "r2"`, `"name": "r1"`, `rule "r1": name differs from the DN's or is used twice`},
		{"group", `"web*"`, `"web["`, `host group "web": vigilHost: bad pattern`},
		{"undefined group", `"@web"`, `"@db"`, `host group "db" is not defined`},
	} {
		bad := strings.Replace(string(good), tc.old, tc.new, 1)
		if bad == string(good) {
			t.Fatalf("%s: %q not in the cache:\n%s", tc.name, tc.old, good)
		}
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCache(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
