// Package admin is vigil-collector's administration of hosts and readers:
// issuing enrollment tokens, listing hosts and their keys, revoking hosts,
// adding, listing and revoking readers. It writes what a person reads; the
// store (play/collector/pgstore) does the rest.
package admin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/keys"
)

// AddHost issues a one-time enrollment token for host, valid for ttl,
// creating the host if needed, and writes it to w with the command that
// enrolls the host against the collector at collectorURL.
func AddHost(ctx context.Context, st *pgstore.Store, w io.Writer, host string, ttl time.Duration, collectorURL string) error {
	token, err := st.NewEnrollToken(ctx, host, ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "Enrollment token for %s, valid once until %s:\n\n  %s\n\nOn %s, run as root:\n\n  vigil-ship enroll --collector %s --token %s\n",
		host, time.Now().Add(ttl).UTC().Format(time.RFC3339), token, host, collectorURL, token)
	return err
}

// ListHosts writes a table of the hosts: name, state, and key ids (a
// revoked key marked so).
func ListHosts(ctx context.Context, st *pgstore.Store, w io.Writer) error {
	hosts, err := st.Hosts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATE\tSINCE\tKEYS")
	for _, h := range hosts {
		state, since := hostState(h)
		ids := make([]string, 0, len(h.Keys))
		for _, k := range h.Keys {
			id := k.ID
			if k.RevokedAt != nil {
				id += " (revoked)"
			}
			ids = append(ids, id)
		}
		keys := strings.Join(ids, ", ")
		if keys == "" {
			keys = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Name, state, since.UTC().Format(time.RFC3339), keys)
	}
	return tw.Flush()
}

// hostState is "revoked", "enrolled" (a trusted key) or "pending" (a
// token issued, no trusted key yet), and since when.
func hostState(h pgstore.Host) (string, time.Time) {
	if h.RevokedAt != nil {
		return "revoked", *h.RevokedAt
	}
	var since time.Time
	for _, k := range h.Keys {
		if k.RevokedAt == nil && (since.IsZero() || k.AddedAt.Before(since)) {
			since = k.AddedAt
		}
	}
	if since.IsZero() {
		return "pending", h.EnrolledAt
	}
	return "enrolled", since
}

// RevokeHost stops accepting anything from host, and says so on w.
func RevokeHost(ctx context.Context, st *pgstore.Store, w io.Writer, host string) error {
	if err := st.RevokeHost(ctx, host); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s revoked: its recordings are no longer accepted; those stored stay.\n", host)
	return err
}

// AddReader allows the holder of the private key of the public key file
// keyFile (rec/keys' PEM, as `vigil-play keygen` writes) to read every
// recording as name, and says so on w.
func AddReader(ctx context.Context, st *pgstore.Store, w io.Writer, name, keyFile string) error {
	set, err := keys.LoadPublic(keyFile)
	if err != nil {
		return err
	}
	if len(set) != 1 {
		return fmt.Errorf("%s: holds %d keys, want one", keyFile, len(set))
	}
	for _, pub := range set {
		id, err := st.AddReader(ctx, name, pub)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s may now read every recording with key %s (vigil-play --server URL --identity KEYFILE).\n", name, id)
		return err
	}
	return nil
}

// ListReaders writes a table of the readers: name, state, key id.
func ListReaders(ctx context.Context, st *pgstore.Store, w io.Writer) error {
	readers, err := st.Readers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "READER\tSTATE\tSINCE\tKEY")
	for _, r := range readers {
		state, since := "allowed", r.AddedAt
		if r.RevokedAt != nil {
			state, since = "revoked", *r.RevokedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, state, since.UTC().Format(time.RFC3339), r.KeyID)
	}
	return tw.Flush()
}

// RevokeReader stops name from reading, and says so on w.
func RevokeReader(ctx context.Context, st *pgstore.Store, w io.Writer, name string) error {
	if err := st.RevokeReader(ctx, name); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s revoked: it can no longer read recordings.\n", name)
	return err
}
