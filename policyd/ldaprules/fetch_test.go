package ldaprules

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/vigil-rec/vigil/conf"
)

// TestFetchExample loads conf/ldap/example.ldif with ldapadd and reads it
// back anonymously.
func TestFetchExample(t *testing.T) {
	t.Parallel()
	s := startSlapd(t)
	// example.ldif creates ou=vigil itself.
	l := s.admin()
	if err := l.Del(ldap.NewDelRequest(base, nil)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	s.ldapadd("../../conf/ldap/example.ldif")

	rs, err := Fetch(context.Background(), s.conf())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Skipped) > 0 {
		t.Errorf("skipped: %v", rs.Skipped)
	}
	if rs.Server != s.uri() || time.Since(rs.Fetched) > time.Minute {
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
	addRule(s, "r1", "record", "vigilUser", "alice")
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
	c := s.conf()
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
		{"wrong", "nope\n", 0o600, []string{"ldap " + s.uri() + ": bind as " + readerDN + ":", "Invalid Credentials"}},
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
	c = s.conf()
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
	addRule(s, "r1", "norecord", "vigilUser", "bob")

	c := s.conf()
	c.StartTLS, c.CACert = true, s.caFile
	c.BindDN, c.PasswordFile = readerDN, filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(c.PasswordFile, []byte(readerPW), 0o600); err != nil {
		t.Fatal(err)
	}
	if rs, err := Fetch(context.Background(), c); err != nil || len(rs.Rules) != 1 {
		t.Fatalf("StartTLS: %v", err)
	}

	c.StartTLS, c.URI = false, s.tlsURI()
	if rs, err := Fetch(context.Background(), c); err != nil || len(rs.Rules) != 1 {
		t.Fatalf("ldaps: %v", err)
	}

	// The system roots do not know the test CA.
	c.CACert = ""
	if _, err := Fetch(context.Background(), c); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("ldaps without the CA: %v", err)
	}
	c.URI, c.StartTLS = s.uri(), true
	if _, err := Fetch(context.Background(), c); err == nil || !strings.Contains(err.Error(), "starttls") {
		t.Errorf("StartTLS without the CA: %v", err)
	}
}

// TestFetchBlackHole: a server that accepts the connection and never
// answers must not hang any step past the timeout.
func TestFetchBlackHole(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var (
		mu   sync.Mutex
		held []net.Conn // kept open and referenced, never read
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	addr := l.Addr().String()
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
	s.add("cn=web,"+base, map[string][]string{"objectClass": {"vigilHostGroup"}, "cn": {"web"}, "vigilHost": {"web*"}})
	addRule(s, "good", "record", "vigilHostGroup", "WEB", "vigilRecSetting", "log.input=true")
	addRule(s, "bad-action", "maybe")
	addRule(s, "bad-priority", "record", "vigilPriority", "-3")
	addRule(s, "bad-key", "record", "vigilRecSetting", "log.keys=true")
	addRule(s, "bad-value", "record", "vigilRecSetting", "limit.rate=fast")
	addRule(s, "bad-glob", "record", "vigilHost", "web[")
	addRule(s, "bad-group", "record", "vigilHost", "@db")
	s.add("cn=nested,"+base, map[string][]string{"objectClass": {"vigilHostGroup"}, "cn": {"nested"}, "vigilHost": {"@web"}})

	rs, err := Fetch(context.Background(), s.conf())
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
		"bad-priority": "vigilPriority: must be an integer from 0",
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
func addRule(s *slapd, cn, action string, kv ...string) {
	s.t.Helper()
	a := map[string][]string{"objectClass": {"vigilRecordingRule"}, "cn": {cn}, "vigilAction": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = append(a[kv[i]], kv[i+1])
	}
	s.add("cn="+cn+","+base, a)
}
