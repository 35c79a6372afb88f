package ship

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vigil-rec/vigil/rec/fleetapi"
)

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
	return resp.StatusCode, &statusError{code: resp.StatusCode, msg: fleetapi.ErrorText(reply)}
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
