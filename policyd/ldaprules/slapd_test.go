package ldaprules

import (
	"bytes"
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
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/vigil-rec/vigil/conf"
)

// A throwaway slapd: its own slapd.conf, database and certificates in a
// temporary directory, listening on loopback only. Nothing of the host's
// LDAP set-up (/etc/ldap, a running slapd) is touched.

const (
	slapdBin = "/usr/sbin/slapd"
	suffix   = "dc=example,dc=com"
	base     = "ou=vigil," + suffix
	rootDN   = "cn=admin," + suffix
	rootPW   = "secret"
	readerDN = "cn=reader," + suffix
	readerPW = "reader pw"
)

type slapd struct {
	t        *testing.T
	dir      string
	port     int // ldap://
	tlsPort  int // ldaps://
	caFile   string
	args     []string // the configuration and listeners
	ready    string   // "network address" that accepts once slapd runs
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has been waited for
	out      syncBuffer    // slapd's stderr, shown when a test fails
	stopOnce func()
}

// needSlapd skips the test when OpenLDAP's server (package slapd, which
// has slaptest too) or clients (ldap-utils) are not installed.
func needSlapd(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(slapdBin); err != nil {
		t.Skipf("needs a real OpenLDAP server: %v (apt-get install slapd ldap-utils)", err)
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		t.Skipf("needs the OpenLDAP clients: %v (apt-get install ldap-utils)", err)
	}
}

// startSlapd runs a fresh slapd holding the suffix entry, ou=vigil and
// cn=reader (password readerPW).
func startSlapd(t *testing.T) *slapd {
	t.Helper()
	needSlapd(t)
	s := &slapd{t: t, dir: t.TempDir(), port: freePort(t), tlsPort: freePort(t)}
	cert, key := s.writeCerts()
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include %s
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s/slapd.pid
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
database mdb
maxsize 16777216
suffix "%s"
rootdn "%s"
rootpw %s
directory %s/db
`, schemaFile(t), s.dir, s.caFile, cert, key, suffix, rootDN, rootPW, s.dir)
	if err := os.WriteFile(filepath.Join(s.dir, "slapd.conf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{"-f", filepath.Join(s.dir, "slapd.conf"),
		"-h", fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.port, s.tlsPort)}
	s.ready = fmt.Sprintf("tcp 127.0.0.1:%d", s.port)
	s.launch()
	s.add(suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	s.add(base, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"vigil"}})
	s.add(readerDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"},
		"cn": {"reader"}, "userPassword": {readerPW}})
	return s
}

func schemaFile(t *testing.T) string {
	p, err := filepath.Abs("../../conf/ldap/vigil.schema")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch starts slapd for the rest of the test.
func (s *slapd) launch() {
	s.t.Helper()
	s.start()
	s.t.Cleanup(func() {
		s.stop()
		if s.t.Failed() {
			s.t.Logf("slapd output:\n%s", s.out.String())
		}
	})
}

// start runs slapd in the foreground (-d 0 keeps it from forking, so that
// the test owns the process) and waits until it accepts connections.
func (s *slapd) start() {
	t := s.t
	t.Helper()
	s.cmd = exec.Command(slapdBin, append([]string{"-d", "0"}, s.args...)...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	var once sync.Once
	s.stopOnce = func() {
		once.Do(func() {
			s.cmd.Process.Kill()
			<-s.done
		})
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case <-s.done:
			t.Fatalf("slapd exited: %v\n%s", s.cmd.ProcessState, s.out.String())
		default:
		}
		network, addr, _ := strings.Cut(s.ready, " ")
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("slapd does not listen on %s: %v\n%s", s.ready, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills slapd and waits for it; the database stays for a restart.
func (s *slapd) stop() { s.stopOnce() }

func (s *slapd) uri() string    { return fmt.Sprintf("ldap://127.0.0.1:%d/", s.port) }
func (s *slapd) tlsURI() string { return fmt.Sprintf("ldaps://127.0.0.1:%d/", s.tlsPort) }

// conf is an anonymous, plain-LDAP configuration for this server.
func (s *slapd) conf() conf.LDAP {
	c := conf.DefaultLDAP()
	c.URI, c.Base, c.Timeout, c.Cache = s.uri(), base, 5, ""
	return c
}

// admin connects as the rootdn, to change the directory.
func (s *slapd) admin() *ldap.Conn {
	s.t.Helper()
	l, err := ldap.DialURL(s.uri(), ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		s.t.Fatal(err)
	}
	l.SetTimeout(5 * time.Second)
	if err := l.Bind(rootDN, rootPW); err != nil {
		l.Close()
		s.t.Fatal(err)
	}
	return l
}

func (s *slapd) add(dn string, a map[string][]string) {
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

func (s *slapd) modify(dn string, replace map[string][]string) {
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

// ldapadd loads an LDIF file with the OpenLDAP client, as administrators do.
func (s *slapd) ldapadd(file string) {
	s.t.Helper()
	out, err := exec.Command("ldapadd", "-x", "-H", s.uri(), "-D", rootDN, "-w", rootPW, "-f", file).CombinedOutput()
	if err != nil {
		s.t.Fatalf("ldapadd -f %s: %v\n%s", file, err, out)
	}
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, and returns the certificate and key files for slapd.
func (s *slapd) writeCerts() (certFile, keyFile string) {
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

// syncBuffer is a bytes.Buffer that slapd's output copier, loggers and the
// test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// count says how many lines hold every one of subs.
func (b *syncBuffer) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}
