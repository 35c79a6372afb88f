package ldaprules

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/vigil-rec/vigil/conf"
)

const (
	searchFilter = "(|(objectClass=vigilRecordingRule)(objectClass=vigilHostGroup))"
	// maxEntries bounds what one fetch holds in memory. More entries than
	// this fail the fetch rather than yield a silently partial rule set.
	maxEntries = 10000
	pageSize   = 500
)

// searchAttrs are the attributes parsing reads; nothing else is asked for.
var searchAttrs = slices.Sorted(maps.Values(attrNames))

// Fetch reads the rules and host groups under c.Base. Every network step
// (connect, TLS handshake, StartTLS, bind, each search page) must finish
// within c.Timeout seconds, also against a server that accepts the
// connection and then says nothing; ctx cancels it at any point.
func Fetch(ctx context.Context, c conf.LDAP) (*RuleSet, error) {
	fail := func(step string, err error) (*RuleSet, error) {
		if cause := context.Cause(ctx); cause != nil {
			err = cause // the real reason, not "use of closed network connection"
		}
		return nil, fmt.Errorf("ldap %s: %s: %w", c.URI, step, err)
	}
	timeout := time.Duration(c.Timeout) * time.Second
	if timeout <= 0 {
		timeout = time.Duration(conf.DefaultLDAP().Timeout) * time.Second
	}
	u, err := url.Parse(c.URI)
	if err != nil {
		return fail("uri", err)
	}
	port := map[string]string{"ldap": "389", "ldaps": "636"}[u.Scheme]
	if port == "" || u.Host == "" {
		return fail("uri", errors.New("want ldap://HOST[:PORT]/ or ldaps://HOST[:PORT]/"))
	}
	if u.Port() != "" {
		port = u.Port()
	}
	if u.Scheme == "ldaps" && c.StartTLS {
		return fail("uri", errors.New("start_tls with an ldaps:// uri: choose one"))
	}
	var tlsConf *tls.Config
	if u.Scheme == "ldaps" || c.StartTLS {
		if tlsConf, err = tlsConfig(u.Hostname(), c.CACert); err != nil {
			return fail("tls", err)
		}
	}
	var password string
	if c.BindDN != "" {
		// Before dialling: a bad file is a local problem, not an outage.
		if password, err = readPassword(c.PasswordFile); err != nil {
			return fail("bind as "+c.BindDN, err)
		}
	}

	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fail("connect", err)
	}
	// go-ldap has no contexts and its request timeout does not cover TLS
	// handshakes, so deadlines on the socket bound each step, and closing
	// the socket aborts whatever is waiting when ctx ends.
	defer context.AfterFunc(ctx, func() { raw.Close() })()
	step := func() { raw.SetDeadline(time.Now().Add(timeout)) }

	var conn *ldap.Conn
	if u.Scheme == "ldaps" {
		tc := tls.Client(raw, tlsConf)
		step()
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return fail("tls handshake", err)
		}
		conn = ldap.NewConn(tc, true)
	} else {
		conn = ldap.NewConn(raw, false)
	}
	conn.Start()
	defer conn.Close()
	conn.SetTimeout(timeout)

	if c.StartTLS {
		step()
		if err := conn.StartTLS(tlsConf); err != nil {
			return fail("starttls", err)
		}
	}
	// No bind is an anonymous session (RFC 4513 5.1.1).
	if c.BindDN != "" {
		step()
		if err := conn.Bind(c.BindDN, password); err != nil {
			return fail("bind as "+c.BindDN, err)
		}
	}

	paging := ldap.NewControlPaging(pageSize)
	req := ldap.NewSearchRequest(c.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		maxEntries+1, int(timeout/time.Second), false, searchFilter, searchAttrs, []ldap.Control{paging})
	var entries []entry
	for {
		step()
		res, err := conn.Search(req)
		if err == nil && len(entries)+len(res.Entries) > maxEntries || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			err = fmt.Errorf("more than %d entries; refusing a partial rule set", maxEntries)
		}
		if err != nil {
			return fail("search "+c.Base, err)
		}
		for _, e := range res.Entries {
			entries = append(entries, entry{dn: e.DN, attrs: entryAttrs(e)})
		}
		// Servers without paging answer everything at once, with no cookie.
		p, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if p == nil || len(p.Cookie) == 0 {
			break
		}
		paging.SetCookie(p.Cookie)
	}
	rs := build(entries)
	rs.Fetched = time.Now()
	rs.Server = c.URI
	return rs, nil
}

// tlsConfig verifies the server as host against the CA bundle in caFile,
// or the system's roots when it is "".
func tlsConfig(host, caFile string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca_cert: %w", err)
	}
	tc.RootCAs = x509.NewCertPool()
	if !tc.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_cert %s: no PEM certificate in it", caFile)
	}
	return tc, nil
}

// readPassword returns the first line of file. A file everyone may read
// leaks the directory password to every local user, so it is refused.
func readPassword(file string) (string, error) {
	if file == "" {
		return "", errors.New("bind_dn is set but bind_password_file is not")
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("password file %s is readable by everyone (mode %04o); chmod o-r it", file, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("password file %s: %w", file, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", fmt.Errorf("password file %s: first line is empty", file)
	}
	return string(line), nil
}
