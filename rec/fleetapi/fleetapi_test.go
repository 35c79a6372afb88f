package fleetapi

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/vigil-rec/vigil/rec/keys"
)

// A host's certificate carries its signing key through a TLS 1.3
// handshake: the collector reads the key id the host's recordings are
// signed with; a client without a certificate, or on TLS 1.2, is refused.
func TestHandshake(t *testing.T) {
	_, hostKey, _ := ed25519.GenerateKey(nil)
	_, serverKey, _ := ed25519.GenerateKey(nil)
	clientCert, err := ClientCertificate(hostKey, "web1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := ClientCertificate(serverKey, "collector") // any self-signed certificate will do here
	if err != nil {
		t.Fatal(err)
	}
	serverCert.Leaf, _ = x509.ParseCertificate(serverCert.Certificate[0])
	roots := x509.NewCertPool()
	roots.AddCert(serverCert.Leaf)

	handshake := func(c *tls.Config) (string, error, error) {
		// Loopback TCP, not net.Pipe: a refusal is an alert written
		// after the client's handshake is done, which a pipe would block.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		done := make(chan error, 1)
		var srv *tls.Conn
		go func() {
			a, err := l.Accept()
			if err != nil {
				done <- err
				return
			}
			srv = tls.Server(a, ServerConfig(serverCert))
			done <- srv.Handshake()
			a.Close()
		}()
		b, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		cerr := tls.Client(b, c).Handshake()
		serr := <-done
		if serr != nil {
			return "", cerr, serr
		}
		cs := srv.ConnectionState()
		_, id, err := PeerKey(&cs)
		return id, cerr, err
	}
	c := ClientConfig(roots, clientCert)
	c.ServerName = "collector"
	c.InsecureSkipVerify = true // the test certificate is not for a server name; the chain is not what is tested
	id, cerr, serr := handshake(c)
	if cerr != nil || serr != nil || id != keys.ID(hostKey.Public().(ed25519.PublicKey)) {
		t.Fatalf("handshake: client %v, server %v, key id %q", cerr, serr, id)
	}
	noCert := c.Clone()
	noCert.Certificates = nil
	if _, _, serr := handshake(noCert); serr == nil {
		t.Error("a client without a certificate was accepted")
	}
	old := c.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, _, serr := handshake(old); serr == nil {
		t.Error("TLS 1.2 was accepted")
	}
}

func TestErrorText(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":"host revoked"}` + "\n": "host revoked",
		"<html>Bad Gateway</html>\n":      "<html>Bad Gateway</html>",
		`{"other":1}`:                     `{"other":1}`,
	} {
		if got := ErrorText([]byte(body)); got != want {
			t.Errorf("ErrorText(%q) = %q, want %q", body, got, want)
		}
	}
}
