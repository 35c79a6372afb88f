// Package remote is the readers' client of a collector (rec/fleetapi's read
// side): it lists, reads, searches and follows the recordings the
// collector holds, over HTTPS as an enrolled reader or over the
// collector's local socket.
package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// Client reads from one collector.
type Client struct {
	base string // the URL endpoints' paths are appended to
	name string // the collector as the user named it, for messages
	hc   *http.Client
}

// Options say how to reach a collector over HTTPS.
type Options struct {
	CA       string // PEM file of the collector's CA; "": the system's roots
	Identity string // the reader's private key file; "": DefaultIdentity()
}

// DefaultIdentity is where a reader's private key is kept when no other is
// named: $XDG_CONFIG_HOME/vigil/reader.key, or ~/.config.
func DefaultIdentity() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = ".config"
	}
	return filepath.Join(dir, "vigil", "reader.key")
}

// Dial returns a client of the collector at server: an https:// URL, or
// the path of the collector's local socket (absolute, or unix:PATH).
func Dial(server string, o Options) (*Client, error) {
	if path, ok := localPath(server); ok {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
		return &Client{base: "http://collector", name: path, hc: &http.Client{Transport: tr}}, nil
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server %q: want https://HOST[:PORT] or the path of the collector's local socket", server)
	}
	if o.Identity == "" {
		o.Identity = DefaultIdentity()
	}
	key, err := keys.LoadPrivate(o.Identity)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (make one with vigil-play keygen and have the collector's admin add its .pub with vigil-collector readers add)", err)
	}
	if err != nil {
		return nil, err
	}
	hc, err := fleetapi.NewClient(o.CA, key, "reader")
	if err != nil {
		return nil, err
	}
	return &Client{base: strings.TrimSuffix(server, "/"), name: server, hc: hc}, nil
}

// Close closes the connections kept for reuse. A nil Client has none.
func (c *Client) Close() {
	if c != nil {
		c.hc.CloseIdleConnections()
	}
}

// String names the collector as the user did.
func (c *Client) String() string { return c.name }

// localPath tells whether server names a local socket, and its path.
func localPath(server string) (string, bool) {
	if p, ok := strings.CutPrefix(server, "unix:"); ok {
		return p, true
	}
	return server, strings.HasPrefix(server, "/")
}

// Keygen writes a new reader key to path, never over an existing file,
// and its public key to path.pub, which the collector's admin adds
// (vigil-collector readers add).
func Keygen(path string) (pubPath string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	// A person's key: theirs alone, not their group's.
	if _, err := keys.GenerateFiles(path, 0o600); err != nil {
		return "", err
	}
	return path + ".pub", nil
}

// get GETs path with query q and returns the reply when it is 200; any
// other status is an error with the collector's message.
func (c *Client) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("collector %s: %w", c.name, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, c.statusError(resp.StatusCode, body)
}

// statusError is the error of a reply of status code other than 200 with
// body, the collector's message.
func (c *Client) statusError(code int, body []byte) error {
	err := fmt.Errorf("collector %s: %s: %s", c.name, http.StatusText(code), fleetapi.ErrorText(body))
	if code == http.StatusNotFound {
		return notFound{err}
	}
	return err
}

// post POSTs v as JSON to path and decodes the 200 reply into out; any
// other status is an error with the collector's message.
func (c *Client) post(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("collector %s: %w", c.name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return c.statusError(resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("collector %s: %s: %w", c.name, path, err)
	}
	return nil
}

// Hold places a legal hold on host's recording file at the collector, for
// reason, placed by by (the caller, as hostinfo.Caller names it). Only
// root on the collector's host may, over its local socket.
func (c *Client) Hold(ctx context.Context, host, file, reason, by string) (store.Hold, error) {
	var h store.Hold
	err := c.post(ctx, fleetapi.PathHold, fleetapi.HoldRequest{Host: host, File: file, Reason: reason, By: by}, &h)
	return h, err
}

// Release lifts the collector's legal hold on host's recording file and
// returns the hold that was in force.
func (c *Client) Release(ctx context.Context, host, file, by string) (store.Hold, error) {
	var h store.Hold
	err := c.post(ctx, fleetapi.PathRelease, fleetapi.HoldRequest{Host: host, File: file, By: by}, &h)
	return h, err
}

// notFound is the collector's 404: it reads as the collector said it, and
// is fs.ErrNotExist to errors.Is.
type notFound struct{ error }

func (notFound) Is(target error) bool { return target == fs.ErrNotExist }

// getJSON GETs path and decodes its JSON reply into out.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := c.get(ctx, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("collector %s: %s: %w", c.name, path, err)
	}
	return nil
}

// Filter selects recordings; its zero value selects all.
type Filter struct {
	Host, User, Rec string // "": any
}

func (f Filter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"host": f.Host, "user": f.User, "rec": f.Rec} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// Recordings lists the recordings f selects, oldest first.
func (c *Client) Recordings(ctx context.Context, f Filter) ([]fleetapi.Recording, error) {
	var recs []fleetapi.Recording
	return recs, c.getJSON(ctx, fleetapi.PathRecordings, f.query(), &recs)
}

// Keys returns the public keys the collector trusts for host's recordings.
func (c *Client) Keys(ctx context.Context, host string) (keys.Set, error) {
	var ks []fleetapi.Key
	if err := c.getJSON(ctx, fleetapi.PathKeys, url.Values{"host": {host}}, &ks); err != nil {
		return nil, err
	}
	set := keys.Set{}
	for _, k := range ks {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("collector %s: key %s of host %s: %d bytes", c.name, k.ID, host, len(k.PublicKey))
		}
		set.Add(k.PublicKey)
	}
	return set, nil
}

// Open reads host's recording file from byte from on, as stored now.
func (c *Client) Open(ctx context.Context, host, file string, from int64) (io.ReadCloser, error) {
	resp, err := c.get(ctx, fleetapi.PathRecording, url.Values{"host": {host}, "file": {file}, "offset": {strconv.FormatInt(from, 10)}})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// CommandLog returns the command log of host's recording rec as the
// collector holds it (an error that is fs.ErrNotExist when none was
// shipped); verify it against Keys(host).
func (c *Client) CommandLog(ctx context.Context, host, rec string) ([]byte, error) {
	resp, err := c.get(ctx, fleetapi.PathCommandLog, url.Values{"host": {host}, "rec": {rec}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Query is what to search for, and where.
type Query struct {
	Text         string
	Regex, Input bool
	Filter
}

// Search calls each with every hit, as the collector finds them.
func (c *Client) Search(ctx context.Context, q Query, each func(fleetapi.Hit) error) error {
	v := q.query()
	v.Set("q", q.Text)
	if q.Regex {
		v.Set("regex", "1")
	}
	if q.Input {
		v.Set("input", "1")
	}
	resp, err := c.get(ctx, fleetapi.PathSearch, v)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var h fleetapi.Hit
		switch err := dec.Decode(&h); {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("collector %s: search: %w", c.name, err)
		}
		if err := each(h); err != nil {
			return err
		}
	}
}

// Name is how a recording at a collector is named on the command line and
// in output: HOST/FILE (neither holds a slash).
func Name(host, file string) string { return host + "/" + file }

// ParseName splits a Name.
func ParseName(name string) (host, file string, err error) {
	host, file, ok := strings.Cut(name, "/")
	if !ok || host == "" || file == "" || strings.Contains(file, "/") {
		return "", "", fmt.Errorf("%q: want HOST/FILE, as list --server shows it", name)
	}
	return host, file, nil
}

// Follow reads a recording that may still grow: it returns io.EOF when it
// has handed out all that is stored, and on the next Read asks the
// collector again from there (the player asks again at its own pace).
// Whenever it returns io.EOF, what it handed out ends at a line's end.
type Follow struct {
	c          *Client
	ctx        context.Context
	host, file string
	off        int64
	body       io.ReadCloser
}

// Follow returns a Follow of host's recording file from its start.
func (c *Client) Follow(ctx context.Context, host, file string) *Follow {
	return &Follow{c: c, ctx: ctx, host: host, file: file}
}

// Read implements io.Reader.
func (f *Follow) Read(p []byte) (int, error) {
	if f.body == nil {
		body, err := f.c.Open(f.ctx, f.host, f.file, f.off)
		if err != nil {
			return 0, err
		}
		f.body = body
	}
	n, err := f.body.Read(p)
	f.off += int64(n)
	if err == io.EOF {
		f.body.Close()
		f.body = nil
	}
	return n, err
}

// Close ends the read under way, if any.
func (f *Follow) Close() error {
	if f.body != nil {
		return f.body.Close()
	}
	return nil
}
