// Package fleetapi is the contract between vigil-ship, which sends a host's
// recording files as they are written, and vigil-collector, which stores
// them (play/collector): the HTTP endpoints, their JSON bodies, and how a
// host proves who it is.
//
// The connection is HTTPS with TLS 1.3 only. A host authenticates with a
// client certificate whose key is its recorder's ed25519 signing key (the
// key that signs its recordings, rec/keys): the collector knows the host by
// the keys enrolled for it, so a host cannot ship as another, and a key
// rotated on the host is enrolled before it is used. The collector is
// authenticated by its server certificate, which hosts check against a CA
// file given to vigil-ship.
package fleetapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// Endpoints.
const (
	// PathAppend appends to one recording file of the calling host:
	// POST PathAppend?file=NAME&offset=N with whole lines as the body
	// (application/octet-stream). NAME is the file's base name in the
	// host's recording directory; N the bytes of it the sender believes
	// the collector holds. The reply is an Ack: 200 when the body was
	// stored (or N was exactly the end of an identical resend), 409
	// Conflict when N is not what the collector holds (the Ack says what
	// it holds: resume from there). An empty body asks for the Ack only.
	PathAppend = "/v1/append"
	// PathEnroll enrolls a host's key with a one-time token made by
	// `vigil-collector hosts add HOST`: POST an Enroll, reply EnrollReply.
	// The key enrolled is the client certificate's (PeerKey), which the
	// host has just proved it holds; the Enroll names the same key.
	PathEnroll = "/v1/enroll"
	// PathPurgeRecord stores one of the calling host's purge records
	// (rec/spec/purge.md §4): POST PathPurgeRecord?file=NAME with the
	// record file's bytes, NAME its name in the host's purged/ directory.
	// The record must verify against the host's enrolled keys and name
	// the host. 200 with a Stored: stored now, or already (the same
	// bytes); 409 Conflict when the collector holds other bytes under
	// NAME (a record is never rewritten: the collector keeps its copy).
	PathPurgeRecord = "/v1/purge-record"
	// PathHostHolds sets the legal holds the calling host has in force
	// (its holds/ directory, rec/spec/purge.md §3): POST a HostHolds with
	// all of them; holds the host no longer has are released. They keep
	// the host's recordings from the collector's purge too. Reply
	// HostHoldsReply. Holds placed at the collector are not the host's to
	// release.
	PathHostHolds = "/v1/host-holds"
	// PathCommands appends to the command log of one of the calling
	// host's recordings (rec/spec/commands.md) as PathAppend does to a
	// recording: POST PathCommands?file=REC.jsonl&offset=N, REC.jsonl its
	// name in the host's commands/ directory, whole lines as the body;
	// reply an Ack, 409 when N is not what the collector holds. The lines
	// must continue the log's chain and verify against the host's enrolled
	// keys (403 otherwise).
	PathCommands = "/v1/commands"
)

// Stored is the reply to a purge record.
type Stored struct {
	New bool `json:"new"` // false: the collector held it already
}

// MaxPurgeRecord bounds a purge record's body: one record lists every
// recording one purge deleted (about 600 bytes each).
const MaxPurgeRecord = 16 << 20

// HostHolds is the holds a host has in force, all of them.
type HostHolds struct {
	Holds []store.Hold `json:"holds"`
}

// MaxHostHolds bounds a HostHolds body.
const MaxHostHolds = 16 << 20

// HostHoldsReply says what a HostHolds changed at the collector.
type HostHoldsReply struct {
	Placed   int `json:"placed"`
	Released int `json:"released"`
}

// Ack says how many bytes of a file the collector holds.
type Ack struct {
	Acked int64 `json:"acked"`
}

// Error is the body of every reply other than 200 and 409: 400 bad
// request (not whole lines, bad name or offset), 403 forbidden (unknown or
// revoked host or key, a recording naming another host, a bad token), 413
// too large (more than MaxAppend bytes), 5xx the collector's own trouble
// (the host keeps its files and retries).
type Error struct {
	Error string `json:"error"`
}

// ErrorText is the message of a refusal's body: its Error, or the body
// itself when it is not one (a proxy's page, say).
func ErrorText(body []byte) string {
	var e Error
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return strings.TrimSpace(string(body))
	}
	return e.Error
}

// MaxAppend bounds one append's body: a tlog line is at most
// tlog.MaxLine, and a sender sends whole lines.
const MaxAppend = 64 << 20

// Enroll is what a host sends to PathEnroll.
type Enroll struct {
	Host      string `json:"host"`       // as its recordings name it
	Token     string `json:"token"`      // the one-time token
	PublicKey []byte `json:"public_key"` // its ed25519 public key (32 bytes)
}

// EnrollReply is the collector's answer to an Enroll.
type EnrollReply struct {
	Host  string `json:"host"`
	KeyID string `json:"key_id"` // keys.ID of the enrolled key
}

// ClientCertificate is the TLS client certificate a host presents: self
// signed by its ed25519 key, named after the host for people reading logs
// (the collector goes by the key, never by the name).
func ClientCertificate(priv ed25519.PrivateKey, host string) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour), // made anew at every start
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

// PeerKey returns the ed25519 key of the client certificate of a TLS
// connection, and its key id. The certificate proves only that the peer
// holds the key (TLS checks the handshake signature); whether the key is a
// host's is the collector's to decide.
func PeerKey(cs *tls.ConnectionState) (ed25519.PublicKey, string, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil, "", errors.New("no client certificate")
	}
	pub, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, "", errors.New("client certificate key is not ed25519")
	}
	return pub, keys.ID(pub), nil
}

// ServerConfig is the collector's TLS configuration: TLS 1.3, a client
// certificate requested (any self-signed one: PeerKey and the enrolled
// keys decide), cert as the server's certificate.
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
	}
}

// ClientConfig is a host's TLS configuration: TLS 1.3, the collector's
// certificate checked against roots, cert (ClientCertificate) presented.
func ClientConfig(roots *x509.CertPool, cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, Certificates: []tls.Certificate{cert}}
}

// certRenew is how long a client certificate is used before a new one is
// made: ClientCertificate's are valid for a day, and a shipper
// runs for months.
const certRenew = 12 * time.Hour

// NewClient is the HTTPS client of a host or a reader: TLS 1.3 (ClientConfig),
// the collector checked against the certificates in the PEM file caFile
// (the system's roots when ""), the client's certificate made from its key
// (ClientCertificate, named name, renewed as it ages).
func NewClient(caFile string, key ed25519.PrivateKey, name string) (*http.Client, error) {
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("collector CA: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("collector CA %s: no PEM certificate", caFile)
		}
	}
	cert, err := ClientCertificate(key, name)
	if err != nil {
		return nil, err
	}
	cfg := ClientConfig(roots, cert)
	var mu sync.Mutex
	made := time.Now()
	// GetClientCertificate takes precedence over Certificates: it hands
	// out the same certificate until it is due for renewal.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(made) > certRenew {
			c, err := ClientCertificate(key, name)
			if err != nil {
				return nil, err
			}
			cert, made = c, time.Now()
		}
		return &cert, nil
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}}, nil
}
