package devmode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-rec/vigil/conf/atomicfile"
)

// Files of Certificates in its directory.
const (
	CAFile   = "ca.pem"     // the CA's certificate: hosts' and readers' --ca
	caKey    = "ca.key"     // its key, to sign the next server certificate
	CertFile = "server.pem" // the collector's certificate
	KeyFile  = "server.key" // and its key
)

// Certificates makes in dir a CA (kept: hosts trust it) unless there is
// one, and a new server certificate it signs for names (host names or IP
// addresses) and loopback, valid for a year. It returns the server's
// certificate.
func Certificates(dir string, names ...string) (tls.Certificate, error) {
	ca, caPriv, err := loadCA(dir)
	if errors.Is(err, os.ErrNotExist) {
		ca, caPriv, err = newCA(dir)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dev CA in %s: %w", dir, err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "vigil-collector dev"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(filepath.Join(dir, KeyFile), 0o600, "PRIVATE KEY", priv); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeCert(filepath.Join(dir, CertFile), der); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func newCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "vigil-collector dev CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, caKey), 0o600, "PRIVATE KEY", priv); err != nil {
		return nil, nil, err
	}
	if err := writeCert(filepath.Join(dir, CAFile), der); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, priv, err
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, caKey))
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, CAFile)); errors.Is(serr, os.ErrNotExist) {
			return nil, nil, serr
		}
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	priv, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("the CA key is not ECDSA")
	}
	return ca, priv, nil
}

func writePEM(path string, mode os.FileMode, typ string, priv *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	return atomicfile.WriteData(path, atomicfile.Options{Mode: mode}, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func writeCert(path string, der []byte) error {
	return atomicfile.WriteData(path, atomicfile.Options{Mode: 0o644}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
