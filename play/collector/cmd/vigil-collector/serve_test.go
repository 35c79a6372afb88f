package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
)

// serverCert writes a certificate for 127.0.0.1 and its key into dir.
func serverCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "collector"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(leaf)
	return certFile, keyFile, roots
}

// serve enrolls a host added with `hosts add` over HTTPS, and stops on
// SIGTERM.
func TestServe(t *testing.T) {
	db := pgtest.DB(t)
	certFile, keyFile, roots := serverCert(t, t.TempDir())
	// A free loopback port: serve says none it picks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var out bytes.Buffer
	if code := run([]string{"hosts", "add", "--db", db, "--url", "https://" + addr, "web1.example.com"}, &out, &out); code != 0 {
		t.Fatalf("hosts add: %d\n%s", code, out.String())
	}
	token := regexp.MustCompile(`--token ([0-9a-f]{64})\n`).FindStringSubmatch(out.String())[1]

	var logs bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--db", db, "--listen", addr, "--cert", certFile, "--key", keyFile}, &logs, &logs)
	}()
	priv, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := fleetapi.ClientCertificate(priv, "web1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: fleetapi.ClientConfig(roots, cert)}, Timeout: time.Minute}
	body, _ := json.Marshal(fleetapi.Enroll{Host: "web1.example.com", Token: token, PublicKey: priv.Public().(ed25519.PublicKey)})
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("serve ended: %d\n%s", code, logs.String())
		default:
		}
		resp, err = hc.Post("https://"+addr+fleetapi.PathEnroll, "application/json", bytes.NewReader(body))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var r fleetapi.EnrollReply
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || r.KeyID != keys.ID(priv.Public().(ed25519.PublicKey)) {
		t.Errorf("enroll: %s %+v %v", resp.Status, r, err)
	}
	hc.CloseIdleConnections()
	// serve listens after it has taken SIGTERM over: the signal stops it,
	// not this test.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve after SIGTERM: %d\n%s", code, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop on SIGTERM")
	}
}
