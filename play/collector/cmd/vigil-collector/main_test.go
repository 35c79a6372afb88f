package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The hosts commands, against a database named by --db or the environment.
func TestHosts(t *testing.T) {
	db := pgtest.DB(t)
	vc := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := vc("hosts", "add", "--db", db, "--ttl", "1h", "--url", "https://c.example.com:8443", "web1.example.com")
	if code != 0 || !regexp.MustCompile(`vigil-ship enroll --collector https://c\.example\.com:8443 --token [0-9a-f]{64}\n`).MatchString(out) {
		t.Fatalf("hosts add: %d\n%s%s", code, out, errOut)
	}
	t.Setenv(dbEnv, db)
	if code, out, errOut := vc("hosts", "revoke", "web1.example.com"); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("hosts revoke: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := vc("hosts", "list"); code != 0 || !regexp.MustCompile(`(?m)^web1\.example\.com +revoked `).MatchString(out) {
		t.Errorf("hosts list: %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := vc("hosts", "revoke", "nope.example.com"); code != 1 || !strings.Contains(errOut, "nope.example.com") {
		t.Errorf("hosts revoke of an unknown host: %d %s", code, errOut)
	}
	t.Setenv(dbEnv, "")
	if code, _, errOut := vc("hosts", "list"); code != 1 || !strings.Contains(errOut, dbEnv) {
		t.Errorf("hosts list without a database: %d %s", code, errOut)
	}
}
