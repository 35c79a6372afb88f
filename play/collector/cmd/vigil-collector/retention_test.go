package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "0d": 0, "2160h": 2160 * time.Hour, "1h30m": 90 * time.Minute, "0": 0,
	} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "-1h", "1.5d", "90 d", "1w", "9999999999999d"} {
		if got, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) = %v, want an error", in, got)
		}
	}
}

// enrolled opens the store on db, closed when t ends, with host enrolled
// and a signing key of its own.
func enrolled(t *testing.T, ctx context.Context, db, host string) (*pgstore.Store, ed25519.PrivateKey) {
	t.Helper()
	hostKey, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.AddHost(ctx, host); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddHostKey(ctx, host, hostKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	return st, hostKey
}

// cliOn runs vigil-collector on db: its exit status and output.
func cliOn(db string) func(args ...string) (int, string) {
	return func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(append(args, "--db", db), &out, &out)
		return code, out.String()
	}
}

// holds, purge, purges and keygen, on recordings of an old month and of
// this one.
func TestRetention(t *testing.T) {
	db := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const host = "web1.example.com"
	st, hostKey := enrolled(t, ctx, db, host)
	now := time.Now().UTC()
	old := time.Date(now.Year(), now.Month()-3, 2, 12, 0, 0, 0, time.UTC)
	name := map[string]string{}
	for rec, start := range map[string]time.Time{"held": old, "gone": old, "cur": now.Add(-time.Minute)} {
		path, err := storetest.Write(t.TempDir(), storetest.Spec{Rec: rec, User: "alice", Host: host, Start: start, Duration: time.Minute, Key: hostKey})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, host, filepath.Base(path), 0, data); err != nil {
			t.Fatal(err)
		}
		name[rec] = host + "/" + filepath.Base(path)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Shipped long ago, as far as purge can tell.
	if _, err := conn.Exec(ctx, "UPDATE recordings SET updated_at = month + interval '1 day'"); err != nil {
		t.Fatal(err)
	}

	cli := cliOn(db)

	dir := t.TempDir()
	key := filepath.Join(dir, "purge.key")
	if code, out := cli("keygen", key); code != 0 || !strings.Contains(out, key+".pub") {
		t.Fatalf("keygen: %d %s", code, out)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("key: %v %v", fi, err)
	}
	if code, out := cli("keygen", key); code != 1 || !strings.Contains(out, "exists") {
		t.Errorf("keygen over an existing key: %d %s", code, out)
	}

	if code, out := cli("holds", "add", name["held"], "--reason", "case 4711"); code != 0 || !strings.Contains(out, "held "+name["held"]) {
		t.Fatalf("holds add: %d %q", code, out)
	}
	if code, out := cli("holds", "add", name["held"]); code != 1 || !strings.Contains(out, "reason") {
		t.Errorf("holds add without a reason: %d %q", code, out)
	}
	if code, out := cli("holds", "add", "no-slash", "--reason", "x"); code != 1 || !strings.Contains(out, "HOST/FILE") {
		t.Errorf("holds add of a bad name: %d %q", code, out)
	}
	if code, out := cli("holds", "list"); code != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name["held"])+` +held +\S+ +\S.* +case 4711$`).MatchString(out) {
		t.Errorf("holds list: %d %q", code, out)
	}

	// A dry run says what would go, and needs no key.
	code, out := cli("purge", "--older-than", "30d", "--dry-run", "--sign-key", filepath.Join(dir, "none"))
	if code != 0 || !strings.Contains(out, "would purge "+name["gone"]) || !regexp.MustCompile(`(?m)^kept +`+regexp.QuoteMeta(name["held"])+` .*; held since \S+ by \S.*: case 4711\)$`).MatchString(out) ||
		strings.Contains(out, name["cur"]) || strings.Contains(out, "record") {
		t.Errorf("purge --dry-run: %d\n%s", code, out)
	}
	if code, out := cli("purge", "--older-than", "30d", "--sign-key", filepath.Join(dir, "none")); code != 1 || !strings.Contains(out, "--sign-key") {
		t.Errorf("purge without a key: %d\n%s", code, out)
	}
	if code, out := cli("purge", "--older-than", "-30d", "--sign-key", key); code != 1 || !strings.Contains(out, "--older-than") {
		t.Errorf("purge --older-than -30d: %d\n%s", code, out)
	}
	code, out = cli("purge", "--older-than", "30d", "--sign-key", key)
	if code != 0 || !strings.Contains(out, "purged      "+name["gone"]) || !strings.Contains(out, "kept        "+name["held"]) ||
		strings.Contains(out, name["cur"]) || !regexp.MustCompile(`(?m)^record +seq 1 sha256 [0-9a-f]{64}$`).MatchString(out) {
		t.Errorf("purge: %d\n%s", code, out)
	}

	if code, out := cli("holds", "release", name["held"]); code != 0 || !strings.Contains(out, "released "+name["held"]) {
		t.Errorf("holds release: %d %q", code, out)
	}
	if code, out := cli("holds", "list"); code != 0 || strings.Contains(out, name["held"]) {
		t.Errorf("holds list after the release: %d %q", code, out)
	}
	if code, out := cli("holds", "list", "--all"); code != 0 || !strings.Contains(out, "released ") {
		t.Errorf("holds list --all: %d %q", code, out)
	}
	code, out = cli("purge", "--older-than", "30d", "--sign-key", key)
	if code != 0 || !strings.Contains(out, "purged      "+name["held"]) || !strings.Contains(out, "dropped     the partition of "+old.Format("2006-01")) {
		t.Errorf("purge after the release: %d\n%s", code, out)
	}

	code, out = cli("purges", "list", "--key", key+".pub", "--recordings")
	if code != 0 || !regexp.MustCompile(`(?m)^1 +OK +`).MatchString(out) || !regexp.MustCompile(`(?m)^2 +OK +`).MatchString(out) ||
		!strings.Contains(out, "seq 1: "+name["gone"]) || !strings.Contains(out, "seq 2: "+name["held"]) {
		t.Errorf("purges list: %d\n%s", code, out)
	}
	// A byte changed in a record is seen: alice becomes `lice.
	if _, err := conn.Exec(ctx, `UPDATE purges SET record = set_byte(record, position('"user":"alice"'::bytea IN record) + 7, 96)
		WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	if code, out := cli("purges", "list", "--key", key+".pub", "--recordings"); code != 1 || !regexp.MustCompile(`(?m)^1 +MODIFIED +`).MatchString(out) ||
		!strings.Contains(out, "user `lice") || !strings.Contains(out, "seq 1: MODIFIED: the signature does not verify") {
		t.Errorf("purges list of a changed record: %d\n%s", code, out)
	}
}

// purges host lists the purge records a host shipped, verified; one the
// host never shipped shows as MISSING, and the exit status says so.
func TestPurgesHost(t *testing.T) {
	db := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const host = "web1.example.com"
	st, hostKey := enrolled(t, ctx, db, host)
	cli := cliOn(db)
	if code, out := cli("purges", "host", host); code != 0 || out != "no purge records of host "+host+"\n" {
		t.Errorf("purges host without records: %d %q", code, out)
	}
	dir := t.TempDir()
	var names []string
	for day := 1; day <= 3; day++ {
		r := &store.PurgeRecord{Time: time.Date(2026, 6, day, 12, 0, 0, 0, time.UTC), Host: host, By: "root"}
		path, _, err := store.AppendPurgeRecord(dir, r, hostKey)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(path))
	}
	for _, n := range []string{names[0], names[2]} {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddHostPurgeRecord(ctx, host, n, data); err != nil {
			t.Fatal(err)
		}
	}
	code, out := cli("purges", "host", host)
	want := regexp.MustCompile(`^` + host + `/purged/` + names[0] + `: OK \(seq 1, 2026-06-01T12:00:00Z, purged 0, key [0-9a-f]{16}\)\n` +
		host + `/purged/` + names[2] + `: MISSING: the record before it, ` + names[1] + ` \(seq 2\), is missing \(seq 3, `)
	if code != 1 || !want.MatchString(out) || !strings.Contains(out, "1 purge record(s) of host "+host+" do not verify") {
		t.Errorf("purges host with a record never shipped: %d\n%s", code, out)
	}
}
