package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/ldaprules"
	"github.com/vigil-rec/vigil/policyd/ldaprules/slapdtest"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// The LDAP rule the tests move between users.
const (
	watchDN   = "cn=ldap-watch," + slapdtest.Base
	watchRule = `rule "ldap-watch" (ldap: ` + watchDN + `)`
)

// ldapPolicy takes its rules from the directory at %s (uri) under %s
// (base), refreshed every %d seconds; without a rule nobody is recorded.
const ldapPolicy = `
recorder = "@RECORDER@"
source = "ldap"

[session_recording]
scope = "none"

[ldap]
uri = "%s"
base = "%s"
refresh = %d
`

// refresh is the least period the policy allows.
const refresh = 5 * time.Second

// ctlQuick runs vigilctl with args and returns its output. policyd must
// never wait for the directory, so each answer has to come within 2 s.
func ctlQuick(t *testing.T, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := exec.Command(binPath("vigilctl"), args...).CombinedOutput()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("vigilctl %s took %v", strings.Join(args, " "), took.Round(time.Millisecond))
	}
	if err != nil {
		t.Fatalf("vigilctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ldapStatus(t *testing.T) daemon.Status {
	t.Helper()
	var s daemon.Status
	if out := ctlQuick(t, "status", "--json"); json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("vigilctl status --json:\n%s", out)
	}
	return s
}

// recordedBy waits until policyd's decision for user's ssh login is
// recorded by the LDAP rule (or, with record false, falls through to
// scope=none).
func recordedBy(t *testing.T, what, user string, record bool) {
	t.Helper()
	want := watchRule
	if !record {
		want = "scope=none"
	}
	waitFor(t, what, func() bool {
		e := explain(t, user, "--service", "sshd")
		return e.Record == record && strings.Contains(e.Rule, want)
	})
}

// sshRecorded logs user in over ssh to print marker-42, and checks that
// the session left a recording of it that verifies.
func sshRecorded(t *testing.T, h *loginHost, user, marker string) {
	t.Helper()
	before := recordings(t)
	out, err := ssh(user, "HOST", "echo "+marker+"-$((6*7))").CombinedOutput()
	if marker += "-42"; err != nil || !strings.Contains(string(out), marker) {
		t.Fatalf("%s's login: %v\n%s", user, err, out)
	}
	rec := waitRecording(t, before)
	verifyFile(t, rec, h.pub)
	if data, _ := os.ReadFile(rec); !strings.Contains(string(data), marker) || !strings.Contains(string(data), `"user":"`+user+`"`) {
		t.Errorf("%s's recording does not show the session:\n%.2000s", user, data)
	}
}

// Rules from a real slapd decide who is recorded at ssh login: changes in
// the directory apply without a restart, at the next refresh or at once on
// vigilctl reload, and the rules in force survive the directory going down
// (also across a policyd restart, from the cache).
func TestLDAPLogin(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	s := slapdtest.Start(t, slapdtest.Options{Schemas: []string{"../conf/ldap/vigil.schema"}})
	ldif := filepath.Join(t.TempDir(), "rules.ldif")
	if err := os.WriteFile(ldif, []byte("dn: "+watchDN+`
objectClass: vigilRecordingRule
cn: ldap-watch
vigilAction: record
vigilPriority: 50
vigilUser: carol
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Ldapadd(ldif)
	h := newLoginHost(t, fmt.Sprintf(ldapPolicy, s.URI(), slapdtest.Base, refresh/time.Second), "")

	recordedBy(t, "the LDAP rule for carol", "carol", true)
	sshRecorded(t, h, "carol", "ldap-carol")
	if out := ctlQuick(t, "rules"); !strings.Contains(out, "ldap-watch") || !strings.Contains(out, "from ldap: "+watchDN) {
		t.Errorf("vigilctl rules does not show the LDAP rule and its entry:\n%s", out)
	}

	// The periodic refresh finds a change by itself.
	s.Modify(watchDN, map[string][]string{"vigilUser": {"alice"}})
	changed := time.Now()
	recordedBy(t, "the periodic refresh", "alice", true)
	if took := time.Since(changed); took > refresh+3*time.Second {
		t.Errorf("the change took %v to apply with refresh = %v", took, refresh)
	}

	// vigilctl reload fetches at once. The refresh above has only just
	// happened, so the next one is almost a whole period away: a change
	// seen sooner is the reload's.
	refreshed := time.Now()
	s.Modify(watchDN, map[string][]string{"vigilUser": {"alice", "bob"}})
	ctlQuick(t, "reload")
	recordedBy(t, "the reload", "bob", true)
	if took := time.Since(refreshed); took > refresh-time.Second {
		t.Errorf("the change took %v after a reload: that was the periodic refresh", took)
	}

	// The next logins follow the directory: carol is no longer recorded,
	// alice is.
	before := recordings(t)
	if out, err := ssh("carol", "HOST", "echo carol-free").CombinedOutput(); err != nil || !strings.Contains(string(out), "carol-free") {
		t.Fatalf("carol's login: %v\n%s", err, out)
	}
	if recs := newRecordings(t, before); len(recs) != 0 {
		t.Errorf("carol was recorded after the rule left her: %v", recs)
	}
	sshRecorded(t, h, "alice", "ldap-alice")

	// The directory goes down: policyd keeps the rules it has (the reload
	// makes it find out now), and so does a policyd started meanwhile,
	// from the cache.
	s.Stop()
	ctlQuick(t, "reload")
	sshRecorded(t, h, "alice", "ldap-down")
	if st := ldapStatus(t); st.Source != "ldap" || st.LDAPRules != 1 || st.LastError != "" {
		t.Errorf("status with the directory down: %+v", st)
	}
	h.stopPolicyd(t)
	h.startPolicyd(t)
	recordedBy(t, "the cached rule", "alice", true)
	sshRecorded(t, h, "alice", "ldap-cached")

	// It comes back: the next change applies again.
	s.Restart()
	s.Modify(watchDN, map[string][]string{"vigilUser": {"carol"}})
	ctlQuick(t, "reload")
	recordedBy(t, "the rule after the directory came back", "carol", true)
	recordedBy(t, "alice to fall through", "alice", false)
}

// A directory that accepts connections and never answers: policyd starts
// on its file policy and the cached LDAP rules, and answers at once
// throughout, reloads included.
func TestLDAPUnresponsive(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	w := policyHost(t)
	addr, accepted := slapdtest.BlackHole(t)
	uri := "ldap://" + addr + "/"
	cache := filepath.Join(w, "ldap-rules.json")
	fetched := time.Now().Add(-time.Hour).Round(time.Second)
	if err := ldaprules.SaveCache(cache, &ldaprules.RuleSet{Server: uri, Fetched: fetched, Rules: []conf.Rule{{
		Name: "ldap-watch", Action: conf.ActionRecord, Priority: 50, Users: []string{"carol"}, Origin: "ldap: " + watchDN,
	}}}); err != nil {
		t.Fatal(err)
	}
	// A timeout far longer than the test: waiting on the directory
	// anywhere would show.
	policy := filepath.Join(w, "policy.toml")
	writeFile(t, policy, fmt.Sprintf(`recorder = "/usr/bin/vigil-rec-session"
source = "ldap"

[session_recording]
scope = "some"
users = ["alice"]

[ldap]
uri = %q
base = %q
timeout = 300
cache = %q
`, uri, slapdtest.Base, cache))
	start := time.Now()
	startPolicyd(t, policy)
	t.Logf("policyd answered %v after its start", time.Since(start).Round(time.Millisecond))

	waitFor(t, "policyd to ask the directory", func() bool { return accepted() > 0 })
	recordedBy(t, "the cached rule", "carol", true)
	if e := explain(t, "alice", "--service", "sshd"); !e.Record || !strings.Contains(e.Rule, "scope=some users") {
		t.Errorf("alice, recorded by the file policy: %+v", e)
	}
	if st := ldapStatus(t); st.LDAPRules != 1 || !st.LDAPFetched.Equal(fetched) {
		t.Errorf("status: %d LDAP rules fetched %v, want the cache's 1 of %v", st.LDAPRules, st.LDAPFetched, fetched)
	}
	ctlQuick(t, "reload")
	ctlQuick(t, "reload") // while the first one's fetch hangs too
	if st := ldapStatus(t); st.LDAPRules != 1 || st.LastError != "" {
		t.Errorf("status after reloads: %+v", st)
	}
	recordedBy(t, "the cached rule after reloads", "carol", true)
}
