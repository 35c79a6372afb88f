package recorder

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/vigil-rec/vigil/conf"
	"github.com/vigil-rec/vigil/conf/hostinfo"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// hostWithin bounds the recorder's own look-up of the host's FQDN, made
// only when nobody (policyd) told it: a login must not wait for DNS.
const hostWithin = 10 * time.Millisecond

// NewMeta gathers a recording's identity: the host's FQDN (host, or looked
// up within hostWithin, else the kernel's host name), recording ID, the
// recorded user, $TERM and the audit session.
func NewMeta(user, host string, getenv func(string) string) (tlog.Meta, error) {
	id, err := tlog.NewRecID()
	if err != nil {
		return tlog.Meta{}, fmt.Errorf("recording id: %w", err)
	}
	sess, err := tlog.SessionID()
	if err != nil {
		return tlog.Meta{}, fmt.Errorf("audit session: %w", err)
	}
	if host == "" {
		host = hostinfo.FQDN(hostWithin)
	}
	return tlog.Meta{Host: host, Rec: id, User: user, Term: getenv("TERM"), Session: sess}, nil
}

// LoadKey reads the signing key. A missing key at the default path records
// an unsigned (but still chained) recording with a warning; a key the admin
// named explicitly must load.
func LoadKey(c conf.Rec, warn io.Writer) (ed25519.PrivateKey, error) {
	if c.Sign.Key == "" {
		return nil, nil
	}
	k, err := keys.LoadPrivate(c.Sign.Key)
	if err == nil {
		return k, nil
	}
	if errors.Is(err, fs.ErrNotExist) && c.Sign.Key == conf.DefaultRec().Sign.Key {
		fmt.Fprintf(warn, "vigil-rec: no signing key at %s: recording is chained but unsigned\n", c.Sign.Key)
		return nil, nil
	}
	return nil, fmt.Errorf("signing key: %w", err)
}
