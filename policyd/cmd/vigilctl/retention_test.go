package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-rec/vigil/policyd/retention"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/store/storetest"
)

func run(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

// The retention commands against a directory of real recordings, by users
// this host has (root, daemon) and one it does not.
func TestPurgeCommand(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(keyDir, "signing.key")
	pub := key.Public().(ed25519.PublicKey)
	if err := keys.WritePrivate(keyFile, key); err != nil {
		t.Fatal(err)
	}
	if err := keys.WritePublic(filepath.Join(keyDir, keys.ID(pub)+".pub"), pub); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte(`[retention]
days = 30

[[rule]]
name = "daemons"
action = "record"
users = ["daemon"]
retention_days = 365
`), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	rec := func(id, user string, days int) string {
		path, err := storetest.Write(dir, storetest.Spec{Rec: id, User: user, Host: "h1.example.com",
			Start: now.AddDate(0, 0, -days), Duration: time.Minute, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	old, held, young := rec("old", "root", 40), rec("held", "root", 40), rec("young", "root", 10)
	daemon, ancient, gone := rec("daemon", "daemon", 40), rec("ancient", "daemon", 400), rec("gone", "no-such-user-vigil", 40)
	purge := func(args ...string) (string, error) {
		return run(t, purgeCmd(), append([]string{"--dir", dir, "--policy", policy, "--sign-key", keyFile, "-k", keyDir,
			"--now", now.Format(time.RFC3339)}, args...)...)
	}

	out, err := run(t, holdCmd(), "--dir", dir, "--reason", "case 42", held)
	if err != nil || !strings.Contains(out, "held held ("+held+")") {
		t.Fatalf("hold: %v\n%s", err, out)
	}
	if out, err := run(t, holdCmd(), "--dir", dir, "held"); err == nil || !strings.Contains(err.Error(), "already held") {
		t.Errorf("hold again: %v\n%s", err, out)
	}
	if out, err := run(t, holdsCmd(), "--dir", dir); err != nil || !strings.Contains(out, "held ") || !strings.Contains(out, "case 42") {
		t.Errorf("holds: %v\n%s", err, out)
	}

	out, err = purge("--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"would purge " + old, "would purge " + ancient, "would purge " + gone,
		"held        " + held, "case 42", "would purge 3, held 1, in use 0, kept 2, errors 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run does not say %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(store.PurgedDir(dir)); err == nil {
		t.Error("dry run wrote a record")
	}
	for _, p := range []string{old, held, young, daemon, ancient, gone} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("dry run deleted %s", p)
		}
	}

	out, err = purge("--json")
	if err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	var res retention.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, o := range res.Recordings {
		if o.Rec == "ancient" && (o.Days != 365 || !strings.Contains(o.By, `rule "daemons"`)) {
			t.Errorf("ancient: %+v", o)
		}
	}
	for path, kept := range map[string]bool{old: false, held: true, young: true, daemon: true, ancient: false, gone: false} {
		if _, err := os.Stat(path); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", path, err == nil, kept)
		}
	}

	verifyOut, err := run(t, verifyPurgesCmd(), "-k", keyDir, store.PurgedDir(dir))
	if err != nil || !strings.Contains(verifyOut, res.Record+": OK (seq 1, 2026-06-01T12:00:00Z, purged 3, key "+keys.ID(pub)+")") {
		t.Fatalf("verify-purges: %v\n%s", err, verifyOut)
	}
	data, err := os.ReadFile(res.Record)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(res.Record, bytes.Replace(data, []byte(`"user":"root"`), []byte(`"user":"toor"`), 1), 0o640); err != nil {
		t.Fatal(err)
	}
	verifyOut, err = run(t, verifyPurgesCmd(), "-k", keyDir, store.PurgedDir(dir))
	if exitCode(err) != 1 || !strings.Contains(verifyOut, res.Record+": MODIFIED: the signature does not verify") {
		t.Errorf("verify-purges after an edit: %v\n%s", err, verifyOut)
	}

	// Released, it goes at the next run, whose record chains to the
	// first (which purge warns is damaged).
	if out, err := run(t, releaseCmd(), "--dir", dir, "held"); err != nil || !strings.Contains(out, "released held") {
		t.Fatalf("release: %v\n%s", err, out)
	}
	out, err = purge()
	if err != nil || !strings.Contains(out, "purged      "+held) || !strings.Contains(out, " seq 2 sha256 ") ||
		!strings.Contains(out, "warning: purge record "+res.Record+": MODIFIED") {
		t.Errorf("purge after release: %v\n%s", err, out)
	}

	if _, err := purge("--now", "yesterday"); exitCode(err) != 2 {
		t.Errorf("bad --now: %v", err)
	}
	if _, err := run(t, verifyPurgesCmd(), "-k", filepath.Join(keyDir, "none"), store.PurgedDir(dir)); exitCode(err) != 2 {
		t.Errorf("missing key: %v", err)
	}
}
