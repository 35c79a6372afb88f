package ship

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vigil-rec/vigil/rec/fleetapi"
)

// certRenew is how long a client certificate is used before a new one is
// made: fleetapi.ClientCertificate's are valid for a day, and a shipper
// runs for months.
const certRenew = 12 * time.Hour

// Client is the HTTPS client of a host: TLS 1.3, the collector checked
// against the certificates in the PEM file caFile, the host's certificate
// made from its signing key (fleetapi.ClientCertificate, renewed as it
// ages).
func Client(caFile string, key ed25519.PrivateKey, host string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("collector CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("collector CA %s: no PEM certificate", caFile)
	}
	cert, err := fleetapi.ClientCertificate(key, host)
	if err != nil {
		return nil, err
	}
	cfg := fleetapi.ClientConfig(roots, cert)
	var mu sync.Mutex
	made := time.Now()
	// GetClientCertificate takes precedence over Certificates: it hands
	// out the same certificate until it is due for renewal.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(made) > certRenew {
			c, err := fleetapi.ClientCertificate(key, host)
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

// statusError is a reply other than 200 and 409.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("collector: %s: %s", http.StatusText(e.code), e.msg)
}

// maxReply bounds the JSON replies read: an Ack or an Error is small.
const maxReply = 64 << 10

// post POSTs body to the collector's path and decodes the reply into out
// when the status is one of ok; any other status is a *statusError.
func post(ctx context.Context, c *http.Client, url, ctype string, body []byte, out any, ok ...int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("collector reply: %w", err)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			if err := json.Unmarshal(reply, out); err != nil {
				return resp.StatusCode, fmt.Errorf("collector reply (%s): %w", resp.Status, err)
			}
			return resp.StatusCode, nil
		}
	}
	var e fleetapi.Error
	if json.Unmarshal(reply, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(reply))
	}
	return resp.StatusCode, &statusError{code: resp.StatusCode, msg: e.Error}
}

// Enroll enrolls the host's signing key with the one-time token
// `vigil-collector hosts add HOST` made. The client must be Client's for
// the same key: the collector enrolls the key the host proves it holds.
func Enroll(ctx context.Context, c *http.Client, collector, host, token string, pub ed25519.PublicKey) (*fleetapi.EnrollReply, error) {
	body, err := json.Marshal(fleetapi.Enroll{Host: host, Token: token, PublicKey: pub})
	if err != nil {
		return nil, err
	}
	var reply fleetapi.EnrollReply
	if _, err := post(ctx, c, strings.TrimSuffix(collector, "/")+fleetapi.PathEnroll, "application/json", body, &reply, http.StatusOK); err != nil {
		return nil, fmt.Errorf("enroll host %s: %w", host, err)
	}
	return &reply, nil
}
