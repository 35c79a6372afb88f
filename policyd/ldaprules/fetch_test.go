package ldaprules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/policyd/ldaprules/slapdtest"
)

// The directory of slapdtest, under the names the tests here use.
const (
	base     = slapdtest.Base
	suffix   = slapdtest.Suffix
	readerDN = slapdtest.ReaderDN
	readerPW = slapdtest.ReaderPW
)

// startSlapd runs a slapd that knows Vigil's schema.
func startSlapd(t *testing.T) *slapdtest.Server {
	t.Helper()
	return slapdtest.Start(t, slapdtest.Options{Schemas: []string{"../../conf/ldap/vigil.schema"}})
}

// TestFetchExample loads conf/ldap/example.ldif with ldapadd and reads it
// back anonymously.
func TestFetchExample(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	s.Delete(base) // example.ldif creates ou=vigil itself
	s.Ldapadd("../../conf/ldap/example.ldif")

	rs, err := Fetch(context.Background(), s.Conf())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Skipped) > 0 {
		t.Errorf("skipped: %v", rs.Skipped)
	}
	if rs.Server != s.URI() || time.Since(rs.Fetched) > time.Minute {
		t.Errorf("Server %q Fetched %v", rs.Server, rs.Fetched)
	}
	if got := rs.HostGroups["webservers"]; !slices.Equal(got, []string{"web*.example.com", "www.example.com"}) &&
		!slices.Equal(got, []string{"www.example.com", "web*.example.com"}) {
		t.Errorf("host group webservers = %q", got)
	}
	var names []string
	for _, r := range rs.Rules {
		names = append(names, r.Name)
	}
	// record-db-admins has vigilEnabled: FALSE.
	if want := []string{"exempt-monitoring", "record-contractors", "record-web-ssh"}; !slices.Equal(names, want) {
		t.Fatalf("rules %q, want %q", names, want)
	}
	web := rs.Rules[2]
	if web.Action != conf.ActionRecord || web.Priority != 100 || !slices.Equal(web.Services, []string{"sshd"}) ||
		!slices.Equal(web.Hosts, []string{"@webservers"}) || web.Origin != "ldap: cn=record-web-ssh,"+base {
		t.Errorf("record-web-ssh = %+v", web)
	}
	if got, want := string(web.Rec.JSON()), `{"log":{"input":true},"writer":"journal","notice":"ATTENTION: this session is recorded."}`; got != want {
		t.Errorf("record-web-ssh rec = %s, want %s", got, want)
	}
	mon := rs.Rules[0]
	if mon.Action != conf.ActionNoRecord || mon.Priority != 10 || len(mon.Users) != 2 || mon.Rec.Len() != 0 {
		t.Errorf("exempt-monitoring = %+v", mon)
	}
}

// TestFetchBind binds with a password file, and checks how a wrong
// password and an unsafe file are reported.
func TestFetchBind(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	addRule(t, s, "r1", "record", "vigilUser", "alice")
	dir := t.TempDir()
	pwFile := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := s.Conf()
	c.BindDN = readerDN

	c.PasswordFile = pwFile("good", readerPW+"\nignored second line\n", 0o640)
	rs, err := Fetch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 1 {
		t.Errorf("rules %+v", rs.Rules)
	}
	c.PasswordFile = pwFile("crlf", readerPW+"\r\n", 0o600)
	if _, err := Fetch(context.Background(), c); err != nil {
		t.Errorf("CRLF password file: %v", err)
	}

	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          []string
	}{
		{"wrong", "nope\n", 0o600, []string{"ldap " + s.URI() + ": bind as " + readerDN + ":", "Invalid Credentials"}},
		{"world", readerPW + "\n", 0o644, []string{"bind as " + readerDN, "readable by everyone (mode 0644)"}},
		{"empty", "\n", 0o600, []string{"first line is empty"}},
	} {
		c.PasswordFile = pwFile(tc.name, tc.content, tc.mode)
		_, err := Fetch(context.Background(), c)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want it to contain %q", tc.name, err, w)
			}
		}
	}
	c.PasswordFile = filepath.Join(dir, "missing")
	if _, err := Fetch(context.Background(), c); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing password file: %v", err)
	}

	// A base that does not exist fails the fetch: no rules is not the same
	// as no directory.
	c = s.Conf()
	c.Base = "ou=nothere," + suffix
	if _, err := Fetch(context.Background(), c); err == nil || !strings.Contains(err.Error(), "search ou=nothere,"+suffix) {
		t.Errorf("missing base: %v", err)
	}
}

// TestFetchTLS uses StartTLS and ldaps:// against slapd's certificate from
// a throwaway CA.
func TestFetchTLS(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	addRule(t, s, "r1", "norecord", "vigilUser", "bob")

	c := s.Conf()
	c.StartTLS, c.CACert = true, s.CAFile()
	c.BindDN, c.PasswordFile = readerDN, filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(c.PasswordFile, []byte(readerPW), 0o600); err != nil {
		t.Fatal(err)
	}
	if rs, err := Fetch(context.Background(), c); err != nil || len(rs.Rules) != 1 {
		t.Fatalf("StartTLS: %v", err)
	}

	c.StartTLS, c.URI = false, s.TLSURI()
	if rs, err := Fetch(context.Background(), c); err != nil || len(rs.Rules) != 1 {
		t.Fatalf("ldaps: %v", err)
	}

	// The system roots do not know the test CA.
	c.CACert = ""
	if _, err := Fetch(context.Background(), c); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("ldaps without the CA: %v", err)
	}
	c.URI, c.StartTLS = s.URI(), true
	if _, err := Fetch(context.Background(), c); err == nil || !strings.Contains(err.Error(), "starttls") {
		t.Errorf("StartTLS without the CA: %v", err)
	}
}

// TestFetchBlackHole: a server that accepts the connection and never
// answers must not hang any step past the timeout.
func TestFetchBlackHole(t *testing.T) {
	t.Parallel()
	addr, _ := slapdtest.BlackHole(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*conf.LDAP)
		step string
	}{
		{"search", func(c *conf.LDAP) {}, "search"},
		{"bind", func(c *conf.LDAP) { c.BindDN, c.PasswordFile = readerDN, pw }, "bind"},
		{"starttls", func(c *conf.LDAP) { c.StartTLS = true }, "starttls"},
		{"ldaps", func(c *conf.LDAP) { c.URI = "ldaps://" + addr + "/" }, "tls handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := conf.LDAP{URI: "ldap://" + addr + "/", Base: base, Timeout: 1}
			tc.edit(&c)
			start := time.Now()
			_, err := Fetch(context.Background(), c)
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.step) {
				t.Errorf("error %v, want one about %s", err, tc.step)
			}
			if took > 1800*time.Millisecond {
				t.Errorf("took %v with a 1 s timeout", took)
			}
		})
	}
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Fetch(ctx, conf.LDAP{URI: "ldap://" + addr + "/", Base: base, Timeout: 60})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
			t.Errorf("after %v: %v, want the context's deadline", time.Since(start), err)
		}
	})
}

// TestFetchJunk: invalid entries are skipped and named; the rest apply.
func TestFetchJunk(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	s.Add("cn=web,"+base, map[string][]string{"objectClass": {"vigilHostGroup"}, "cn": {"web"}, "vigilHost": {"web*"}})
	addRule(t, s, "good", "record", "vigilHostGroup", "WEB", "vigilRecSetting", "log.input=true")
	addRule(t, s, "bad-action", "maybe")
	addRule(t, s, "bad-priority", "record", "vigilPriority", "-3")
	addRule(t, s, "bad-key", "record", "vigilRecSetting", "log.keys=true")
	addRule(t, s, "bad-value", "record", "vigilRecSetting", "limit.rate=fast")
	addRule(t, s, "bad-glob", "record", "vigilHost", "web[")
	addRule(t, s, "bad-group", "record", "vigilHost", "@db")
	s.Add("cn=nested,"+base, map[string][]string{"objectClass": {"vigilHostGroup"}, "cn": {"nested"}, "vigilHost": {"@web"}})

	rs, err := Fetch(context.Background(), s.Conf())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 1 || rs.Rules[0].Name != "good" || !slices.Equal(rs.Rules[0].Hosts, []string{"@web"}) {
		t.Errorf("rules %+v", rs.Rules)
	}
	got := map[string]string{}
	for _, e := range rs.Skipped {
		got[e.DN] = e.Error()
	}
	for cn, want := range map[string]string{
		"bad-action":   "vigilAction: must be",
		"bad-priority": "vigilPriority: must be between 0 and 2147483647 (got -3)",
		"bad-key":      `vigilRecSetting: log.keys: unknown recorder key`,
		"bad-value":    `vigilRecSetting: limit.rate: must be an integer (got "fast")`,
		"bad-glob":     `vigilHost: bad pattern "web["`,
		"bad-group":    `vigilHost: host group "db" is not defined`,
		"nested":       `vigilHost: "@web": host groups cannot contain host groups`,
	} {
		dn := "cn=" + cn + "," + base
		if !strings.HasPrefix(got[dn], dn+": ") || !strings.Contains(got[dn], want) {
			t.Errorf("%s: skipped as %q, want %q", dn, got[dn], want)
		}
	}
	if len(rs.Skipped) != 7 {
		t.Errorf("skipped %d entries: %v", len(rs.Skipped), rs.Skipped)
	}
}

// addRule adds a vigilRecordingRule; kv are more attribute-value pairs.
func addRule(t *testing.T, s *slapdtest.Server, cn, action string, kv ...string) {
	t.Helper()
	a := map[string][]string{"objectClass": {"vigilRecordingRule"}, "cn": {cn}, "vigilAction": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = append(a[kv[i]], kv[i+1])
	}
	s.Add("cn="+cn+","+base, a)
}
