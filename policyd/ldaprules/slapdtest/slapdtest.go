// Package slapdtest runs a throwaway OpenLDAP server for tests: its own
// configuration, database and certificates in a temporary directory,
// listening on loopback and a Unix socket in that directory only. Nothing
// of the host's LDAP set-up is used or changed (no /etc/ldap/slapd.d, no
// ldap.conf, no running slapd; only the stock schema files are read), and
// the server is killed when the test ends, or when the test binary dies.
package slapdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/vigil-rec/vigil/conf"
)

// The directory a Server holds: the suffix entry, Base (an
// organizationalUnit) and ReaderDN, a simpleSecurityObject with password
// ReaderPW. RootDN with RootPW may change anything.
const (
	Suffix   = "dc=example,dc=com"
	Base     = "ou=vigil," + Suffix
	RootDN   = "cn=admin," + Suffix
	RootPW   = "secret"
	ReaderDN = "cn=reader," + Suffix
	ReaderPW = "reader pw"
)

const (
	slapdBin  = "/usr/sbin/slapd"
	slaptest  = "/usr/sbin/slaptest"
	schemaDir = "/etc/ldap/schema"
	opTimeout = 5 * time.Second
	upTimeout = 10 * time.Second
)

// Options says how to set up a Server.
type Options struct {
	// Schemas are schema files in slapd.conf syntax (such as
	// conf/ldap/vigil.schema), loaded after OpenLDAP's core and cosine
	// schemas. Relative paths are from the test's directory.
	Schemas []string
	// CNConfig configures slapd the way Debian does, through cn=config in
	// a slapd.d directory (converted by slaptest), and starts it with no
	// database: root may manage cn=config over LDAPIURI with SASL
	// EXTERNAL, to load schemas and add the database as an administrator
	// would. Until a database for Suffix exists, Add and the like fail.
	CNConfig bool
}

// Server is a running slapd.
type Server struct {
	t       testing.TB
	dir     string
	port    int // ldap://
	tlsPort int // ldaps://
	caFile  string
	args    []string // the configuration and listeners
	log     string   // slapd's stderr, shown when the test fails
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has been waited for
}

// Start runs a fresh slapd for the rest of the test, and skips the test
// when OpenLDAP's server (package slapd) or clients (ldap-utils) are not
// installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	for _, f := range []string{slapdBin, slaptest} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("needs a real OpenLDAP server: %v (apt-get install slapd ldap-utils)", err)
		}
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		t.Skipf("needs the OpenLDAP clients: %v (apt-get install ldap-utils)", err)
	}
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t), tlsPort: freePort(t)}
	s.log = filepath.Join(s.dir, "slapd.log")
	cert, key := s.writeCerts()
	cfg := fmt.Sprintf("include %s/core.schema\ninclude %s/cosine.schema\n", schemaDir, schemaDir)
	for _, f := range opts.Schemas {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg += "include " + abs + "\n"
	}
	cfg += fmt.Sprintf(`modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s/slapd.pid
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
`, s.dir, s.caFile, cert, key)
	if opts.CNConfig {
		cfg += "database config\naccess to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none\n"
	} else {
		db := filepath.Join(s.dir, "db")
		if err := os.Mkdir(db, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("database mdb\nmaxsize 16777216\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n",
			Suffix, RootDN, RootPW, db)
	}
	conf := filepath.Join(s.dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{"-f", conf}
	if opts.CNConfig {
		// slaptest would open an mdb database read-only, which fails
		// before it exists: hence no database until the test adds one.
		slapdD := filepath.Join(s.dir, "slapd.d")
		if err := os.Mkdir(slapdD, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := Command(slaptest, "-f", conf, "-F", slapdD).CombinedOutput(); err != nil {
			t.Fatalf("slaptest: %v\n%s", err, out)
		}
		s.args = []string{"-F", slapdD}
	}
	s.args = append(s.args, "-h", s.URI()+" "+s.TLSURI()+" "+s.LDAPIURI())
	s.start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			out, _ := os.ReadFile(s.log)
			t.Logf("slapd output:\n%s", out)
		}
	})
	if !opts.CNConfig {
		s.Add(Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
		s.Add(Base, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"vigil"}})
		s.Add(ReaderDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"},
			"cn": {"reader"}, "userPassword": {ReaderPW}})
	}
	return s
}

// Command is an OpenLDAP program (ldapadd, ldapsearch, ...) that ignores
// the host's ldap.conf and ~/.ldaprc, whose defaults (URI, TLS, SASL)
// would change what it does.
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	return cmd
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs slapd in the foreground (-d 0 keeps it from forking, so that
// the test owns the process) and waits until it accepts connections.
func (s *Server) start() {
	t := s.t
	t.Helper()
	out, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // slapd has its own descriptor
	s.cmd = Command(slapdBin, append([]string{"-d", "0"}, s.args...)...)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)
	// slapd opens every listener before it serves any, so the Unix
	// socket is there once the port answers.
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	for deadline := time.Now().Add(upTimeout); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.done:
			state := s.cmd.ProcessState
			s.cmd = nil
			log, _ := os.ReadFile(s.log)
			t.Fatalf("slapd exited: %v\n%s", state, log)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(s.log)
			t.Fatalf("slapd does not listen on %s: %v\n%s", addr, err, log)
		}
	}
}

// Stop kills slapd and waits for it; the database stays for Restart.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart stops slapd if it runs and starts it again, on the same ports
// with the same database.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// URI is the plain LDAP listener, ldap://127.0.0.1:PORT/.
func (s *Server) URI() string { return fmt.Sprintf("ldap://127.0.0.1:%d/", s.port) }

// TLSURI is the LDAP over TLS listener, ldaps://127.0.0.1:PORT/, whose
// certificate CAFile signed.
func (s *Server) TLSURI() string { return fmt.Sprintf("ldaps://127.0.0.1:%d/", s.tlsPort) }

// LDAPIURI is the Unix socket listener, where root may bind with SASL
// EXTERNAL.
func (s *Server) LDAPIURI() string {
	return "ldapi://" + url.PathEscape(filepath.Join(s.dir, "ldapi"))
}

// CAFile is the PEM file of the CA that signed the server's certificate
// (for 127.0.0.1 and localhost), for StartTLS and TLSURI.
func (s *Server) CAFile() string { return s.caFile }

// Conf is an anonymous, plain-LDAP configuration for this server, without
// a cache.
func (s *Server) Conf() conf.LDAP {
	c := conf.DefaultLDAP()
	c.URI, c.Base, c.Timeout, c.Cache = s.URI(), Base, int(opTimeout/time.Second), ""
	return c
}

// admin connects as RootDN, to change the directory.
func (s *Server) admin() *ldap.Conn {
	s.t.Helper()
	l, err := ldap.DialURL(s.URI(), ldap.DialWithDialer(&net.Dialer{Timeout: opTimeout}))
	if err != nil {
		s.t.Fatal(err)
	}
	l.SetTimeout(opTimeout)
	if err := l.Bind(RootDN, RootPW); err != nil {
		l.Close()
		s.t.Fatal(err)
	}
	return l
}

// Add adds the entry dn with attributes a.
func (s *Server) Add(dn string, a map[string][]string) {
	s.t.Helper()
	l := s.admin()
	defer l.Close()
	req := ldap.NewAddRequest(dn, nil)
	for _, k := range slices.Sorted(maps.Keys(a)) {
		req.Attribute(k, a[k])
	}
	if err := l.Add(req); err != nil {
		s.t.Fatalf("add %s: %v", dn, err)
	}
}

// Modify replaces the values of the attributes in replace; an empty list
// deletes the attribute.
func (s *Server) Modify(dn string, replace map[string][]string) {
	s.t.Helper()
	l := s.admin()
	defer l.Close()
	req := ldap.NewModifyRequest(dn, nil)
	for _, k := range slices.Sorted(maps.Keys(replace)) {
		req.Replace(k, replace[k])
	}
	if err := l.Modify(req); err != nil {
		s.t.Fatalf("modify %s: %v", dn, err)
	}
}

// Delete deletes the entry dn, which must have no children.
func (s *Server) Delete(dn string) {
	s.t.Helper()
	l := s.admin()
	defer l.Close()
	if err := l.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		s.t.Fatalf("delete %s: %v", dn, err)
	}
}

// Ldapadd loads an LDIF file with OpenLDAP's ldapadd as RootDN, the way
// administrators do.
func (s *Server) Ldapadd(file string) {
	s.t.Helper()
	out, err := Command("ldapadd", "-x", "-H", s.URI(), "-D", RootDN, "-w", RootPW, "-f", file).CombinedOutput()
	if err != nil {
		s.t.Fatalf("ldapadd -f %s: %v\n%s", file, err, out)
	}
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, and returns the certificate and key files for slapd.
func (s *Server) writeCerts() (certFile, keyFile string) {
	t := s.t
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Vigil test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s.caFile = filepath.Join(s.dir, "ca.pem")
	certFile, keyFile = filepath.Join(s.dir, "server.pem"), filepath.Join(s.dir, "server.key")
	for f, b := range map[string]*pem.Block{s.caFile: {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// BlackHole listens on 127.0.0.1 and accepts connections that it never
// reads or answers: an LDAP server that hangs. It returns the address and
// a count of the connections taken so far; all is closed when t ends.
func BlackHole(t testing.TB) (addr string, accepted func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return l.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(held)
	}
}
