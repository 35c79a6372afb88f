package admin

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

// AddHold puts the recording name (HOST/FILE) under a legal hold placed by
// by for reason, and says so on w.
func AddHold(ctx context.Context, st *pgstore.Store, w io.Writer, name, reason, by string) error {
	host, file, err := remote.ParseName(name)
	if err != nil {
		return err
	}
	if err := st.Hold(ctx, host, file, reason, by); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "held %s: purge keeps it until it is released.\n", name)
	return err
}

// ReleaseHold lifts the hold on the recording name (HOST/FILE), as by, and
// says so on w.
func ReleaseHold(ctx context.Context, st *pgstore.Store, w io.Writer, name, by string) error {
	host, file, err := remote.ParseName(name)
	if err != nil {
		return err
	}
	h, err := st.Release(ctx, host, file, by)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "released %s (held since %s by %s: %s)\n", name, stamp(h.Since), safetext.Printable(h.By), safetext.Printable(h.Reason))
	return err
}

// ListHolds writes a table of the holds in force, and with all the
// released ones too: recording, since when, by whom, why.
func ListHolds(ctx context.Context, st *pgstore.Store, w io.Writer, all bool) error {
	holds, err := st.Holds(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORDING\tSTATE\tSINCE\tBY\tREASON")
	for _, h := range holds {
		state := "held"
		if h.ReleasedAt != nil {
			if !all {
				continue
			}
			state = "released " + stamp(*h.ReleasedAt) + " by " + safetext.Printable(h.ReleasedBy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", recName(h.Host, h.File), state, stamp(h.Since),
			safetext.Printable(h.By), safetext.Printable(h.Reason))
	}
	return tw.Flush()
}

// Purge purges as o says and writes what it did (in a dry run, would do):
// a line for each recording purged or kept, each partition dropped, and the
// record written.
func Purge(ctx context.Context, st *pgstore.Store, w io.Writer, o pgstore.PurgeOptions) error {
	res, err := st.Purge(ctx, o)
	if err != nil {
		return err
	}
	purged, dropped := "purged", "dropped"
	if o.DryRun {
		purged, dropped = "would purge", "would drop"
	}
	for _, p := range res.Purged {
		fmt.Fprintf(w, "%-11s %s (%s)\n", purged, recName(p.Host, p.File), describe(&p))
	}
	for _, k := range res.Kept {
		why := "appended to at " + stamp(k.UpdatedAt) + ", after the cutoff"
		if k.Hold != nil {
			why = "held since " + stamp(k.Hold.Since) + " by " + safetext.Printable(k.Hold.By) + ": " + safetext.Printable(k.Hold.Reason)
		}
		fmt.Fprintf(w, "%-11s %s (%s; %s)\n", "kept", recName(k.Host, k.File), describe(&k.PurgedRecording), why)
	}
	for _, m := range res.Dropped {
		fmt.Fprintf(w, "%-11s the partition of %s\n", dropped, m.Format("2006-01"))
	}
	switch {
	case res.Seq != 0:
		_, err = fmt.Fprintf(w, "record      seq %d sha256 %s\n", res.Seq, res.SHA256)
	case len(res.Purged) == 0:
		_, err = fmt.Fprintf(w, "nothing to purge up to %s\n", stamp(o.Cutoff))
	}
	return err
}

// describe says what identifies a purged recording.
func describe(p *pgstore.PurgedRecording) string {
	return fmt.Sprintf("rec %s, user %s, month %s, %d bytes, %s", safetext.Printable(p.Rec), safetext.Printable(p.User),
		p.Month.Format("2006-01"), p.Bytes, p.State)
}

// ListPurges writes the purge records, each with its verification, in a
// table; then what is wrong with those not OK and, with recordings, what
// each record lists. It returns how many records are not OK.
func ListPurges(ctx context.Context, st *pgstore.Store, w io.Writer, trusted keys.Set, recordings bool) (int, error) {
	reps, err := st.Purges(ctx, trusted)
	if err != nil {
		return 0, err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTATE\tTIME\tBY\tCUTOFF\tRECORDINGS\tKEY")
	for _, r := range reps {
		n, key := "-", r.Key
		if r.Record != nil {
			n = fmt.Sprint(len(r.Record.Recordings))
		}
		if key == "" {
			key = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.StateName, stamp(r.Time), safetext.Printable(r.By), stamp(r.Cutoff), n, key)
	}
	if err := tw.Flush(); err != nil {
		return 0, err
	}
	bad := 0
	for _, r := range reps {
		if r.State != verify.OK {
			bad++
			fmt.Fprintf(w, "seq %d: %s: %s\n", r.Seq, r.StateName, safetext.Printable(r.Detail))
		}
		if recordings && r.Record != nil {
			for _, p := range r.Record.Recordings {
				fmt.Fprintf(w, "seq %d: %s (%s, last hash %s)\n", r.Seq, recName(p.Host, p.File), describe(&p), p.LastHash)
			}
		}
	}
	return bad, nil
}

// ListHostPurges writes the purge records host shipped, each verified
// against the host's keys and chain as `vigilctl verify-purges` verifies
// them on the host, one line each. It returns how many are not OK.
func ListHostPurges(ctx context.Context, st *pgstore.Store, w io.Writer, host string) (int, error) {
	reps, err := st.HostPurges(ctx, host)
	if err != nil {
		return 0, err
	}
	if len(reps) == 0 {
		_, err := fmt.Fprintf(w, "no purge records of host %s\n", safetext.Printable(host))
		return 0, err
	}
	bad := 0
	for _, r := range reps {
		line := safetext.Printable(r.File) + ": " + r.StateName
		if r.State != verify.OK {
			bad++
			line += ": " + safetext.Printable(r.Detail)
		}
		if r.Seq > 0 {
			line += fmt.Sprintf(" (seq %d, %s, purged %d, key %s)", r.Seq, stamp(r.Time), r.Recordings, r.Key)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return bad, err
		}
	}
	return bad, nil
}

// Keygen makes the key that signs the purge records: the private key in
// path (mode 0640, never over an existing file) and the public key, which
// verifies them, in path.pub; and says so on w.
func Keygen(w io.Writer, path string) error {
	pub, err := keys.GenerateFiles(path, 0o640)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "Purge records are signed with %s (key %s), verified with %s.pub.\n", path, keys.ID(pub), path)
	return err
}

// recName is how a recording is named, as vigil-play --server names it;
// shown safely, as a host chose the file's name.
func recName(host, file string) string { return safetext.Printable(remote.Name(host, file)) }

// stamp is how times are shown: RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
