package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/fleetapi"
)

// localPeer is the context key of the peer of a local-socket connection,
// a *peer.
type localPeer struct{}

// peer is the process at the other end of a local-socket connection, as
// the kernel says (SO_PEERCRED); uid is -1 when it could not say.
type peer struct {
	name string
	uid  int64
}

// reader names who is reading, or refuses them: over HTTPS an enrolled
// reader's certificate key; over the local socket whoever could open it
// (the socket file's mode and group are the access control), named by
// uid for the log.
func (h *Handler) reader(r *http.Request) (string, int, error) {
	if r.TLS == nil {
		if p, ok := r.Context().Value(localPeer{}).(*peer); ok {
			return p.name, 0, nil
		}
		return "", http.StatusForbidden, errors.New("not a reader")
	}
	pub, _, err := fleetapi.PeerKey(r.TLS)
	if err != nil {
		return "", http.StatusForbidden, err
	}
	name, err := h.store.ReaderByKey(r.Context(), pub)
	switch {
	case errors.Is(err, pgstore.ErrUnknownReader), errors.Is(err, pgstore.ErrReaderRevoked):
		return name, http.StatusForbidden, err
	case err != nil:
		return "", http.StatusInternalServerError, err
	}
	return "reader " + name, 0, nil
}

// readHandler wraps a read endpoint: it identifies the reader, refuses
// others, and logs every read (the access log: who read what, from where).
func (h *Handler) readHandler(serve func(w http.ResponseWriter, r *http.Request, who string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, code, err := h.reader(r)
		if err != nil {
			h.refuse(w, r, code, err)
			return
		}
		h.log.Info("read", "reader", who, "remote", r.RemoteAddr, "path", r.URL.Path, "query", r.URL.RawQuery)
		if err := serve(w, r, who); err != nil {
			code := http.StatusBadRequest
			switch {
			case errors.Is(err, pgstore.ErrNotFound), errors.Is(err, pgstore.ErrUnknownHost):
				code = http.StatusNotFound
			case errors.As(err, new(*serverError)):
				code = http.StatusInternalServerError
			}
			h.refuse(w, r, code, err, "reader", who)
		}
	}
}

// serverError marks the collector's own trouble in a read (500).
type serverError struct{ err error }

func (e *serverError) Error() string { return e.err.Error() }
func (e *serverError) Unwrap() error { return e.err }

// internal marks err as the collector's trouble unless the store said the
// request asked for what is not there.
func internal(err error) error {
	if errors.Is(err, pgstore.ErrNotFound) || errors.Is(err, pgstore.ErrUnknownHost) || errors.Is(err, pgstore.ErrBadOffset) {
		return err
	}
	return &serverError{err}
}

func (h *Handler) recordings(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	recs, err := h.store.Recordings(r.Context(), pgstore.Filter{Host: q.Get("host"), User: q.Get("user"), Rec: q.Get("rec")})
	if err != nil {
		return internal(err)
	}
	out := make([]fleetapi.Recording, len(recs))
	for i := range recs {
		out[i] = listed(&recs[i])
	}
	reply(w, http.StatusOK, out)
	return nil
}

// listed is a stored recording as the read API lists it.
func listed(rec *pgstore.Recording) fleetapi.Recording {
	out := fleetapi.Recording{Host: rec.Host, File: rec.File, Rec: rec.Rec, User: rec.User, Term: rec.Term,
		Duration: rec.Duration, Size: rec.Size, State: rec.State, Detail: rec.Detail, Updated: rec.UpdatedAt.UTC(), Hold: rec.Hold}
	if !rec.Start.IsZero() {
		out.Start = &rec.Start
	}
	if !rec.End.IsZero() {
		out.End = &rec.End
	}
	return out
}

// countingWriter tells whether a reply's body has begun: after that, a
// failure can only cut the connection.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.n == 0 {
		c.w.Header().Set("Content-Type", "application/x-ndjson")
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (h *Handler) recording(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	var from int64
	if s := q.Get("offset"); s != "" {
		var err error
		if from, err = strconv.ParseInt(s, 10, 64); err != nil || from < 0 {
			return fmt.Errorf("offset %q is not a byte count", s)
		}
	}
	cw := &countingWriter{w: w}
	_, err := h.store.Read(r.Context(), q.Get("host"), q.Get("file"), from, cw)
	switch {
	case err != nil && cw.n > 0:
		// Too late for a status: cut the reply, so that the reader sees
		// an error rather than a recording that merely looks shorter.
		h.log.Error("read cut short", "host", q.Get("host"), "file", q.Get("file"), "error", err)
		panic(http.ErrAbortHandler)
	case err != nil:
		return internal(err)
	case cw.n == 0:
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

func (h *Handler) commandLog(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	data, err := h.store.CommandLog(r.Context(), q.Get("host"), q.Get("rec"))
	if err != nil {
		return internal(err)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	_, _ = w.Write(data) // the reader gone: nothing to tell it
	return nil
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request, _ string) error {
	host := r.URL.Query().Get("host")
	set, err := h.store.HostKeys(r.Context(), host)
	if err != nil {
		return internal(err)
	}
	out := []fleetapi.Key{}
	for _, id := range set.IDs() {
		out = append(out, fleetapi.Key{ID: id, PublicKey: set[id]})
	}
	reply(w, http.StatusOK, out)
	return nil
}

// search finds the recordings that may hold the text in the index, reads
// each through play/search, as `vigil-play search` reads a file, and writes
// the hits of each as they are found.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	pattern := q.Get("q")
	switch {
	case pattern == "":
		return errors.New("empty search text (q)")
	case len(pattern) > maxPattern:
		return fmt.Errorf("search text of %d bytes, more than %d", len(pattern), maxPattern)
	}
	match, err := search.Compile(pattern, q.Get("regex") == "1")
	if err != nil {
		return fmt.Errorf("regex: %w", err)
	}
	// The index tells which recordings may hold the text; those are
	// searched as vigil-play searches a file.
	f := pgstore.Filter{Host: q.Get("host"), User: q.Get("user"), Rec: q.Get("rec")}
	recs, err := h.store.Candidates(r.Context(), f, search.Literal(pattern, q.Get("regex") == "1"))
	if err != nil {
		return internal(err)
	}
	// A few searches at a time: each takes the cores, and readers must
	// not take the database's connections from the hosts' appends.
	select {
	case h.searches <- struct{}{}:
		defer func() { <-h.searches }()
	case <-r.Context().Done():
		return nil
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	o := search.Options{Match: match, Input: q.Get("input") == "1", MaxHits: h.maxHits}
	// Recordings are searched a few at a time (the screen model is one
	// core's work each), their hits written in the candidates' order.
	type result struct {
		hits []search.Hit
		err  error
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	results := make([]chan result, len(recs))
	for i := range recs {
		results[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	go func() {
		for i := range recs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				hits, err := h.searchOne(ctx, &recs[i], o)
				results[i] <- result{hits, err}
			}()
		}
	}()
	for i := range recs {
		rec := &recs[i]
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return nil // the reader went away
		}
		out := make([]fleetapi.Hit, 0, len(res.hits)+1)
		for _, hit := range res.hits {
			out = append(out, fleetapi.Hit{Host: rec.Host, File: rec.File, Rec: hit.Rec,
				Seconds: hit.Sec, Source: hit.Source, Line: hit.Line})
		}
		if res.err != nil {
			// As vigil-play search with a file it cannot read to the
			// end: the hits before stand, the others are searched.
			h.log.Warn("search of a recording cut short", "host", rec.Host, "file", rec.File, "error", res.err)
			out = append(out, fleetapi.Hit{Host: rec.Host, File: rec.File, Rec: rec.Rec, Error: res.err.Error()})
		}
		for _, hit := range out {
			if err := enc.Encode(hit); err != nil {
				return nil // the reader went away
			}
		}
		if f, ok := w.(http.Flusher); ok && len(out) > 0 {
			f.Flush()
		}
	}
	return nil
}

// maxPattern bounds a search's text or regular expression.
const maxPattern = 4 << 10

// searchOne searches one stored recording, streaming its bytes from the
// store into play/search.
func (h *Handler) searchOne(ctx context.Context, rec *pgstore.Recording, o search.Options) ([]search.Hit, error) {
	name := rec.Host + "/" + rec.File
	ids := []string{rec.Rec}
	if rec.Several {
		// Each of the file's recordings, as vigil-play search takes a
		// file holding several.
		var err error
		if err = h.readInto(ctx, rec, func(r io.Reader) error { ids, err = search.RecordingIDs(r); return err }); err != nil {
			return nil, err
		}
	}
	var hits []search.Hit
	for _, id := range ids {
		err := h.readInto(ctx, rec, func(r io.Reader) error {
			found, err := search.Stream(r, name, id, o)
			hits = append(hits, found...)
			return err
		})
		if err != nil {
			return hits, err
		}
	}
	return hits, nil
}

// readInto streams rec's stored bytes to f.
func (h *Handler) readInto(ctx context.Context, rec *pgstore.Recording, f func(io.Reader) error) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := h.store.Read(ctx, rec.Host, rec.File, 0, pw)
		pw.CloseWithError(err)
	}()
	err := f(pr)
	pr.CloseWithError(errors.New("search done")) // lets the reading goroutine end
	return err
}

// ListenLocal makes the collector's local socket at path for readers on
// its host: plain HTTP, mode 0660 and group group (who may read), or 0600
// when group is "" (the collector's user alone). A socket left at path by
// an earlier run is replaced; any other file is not. The directory must
// not be writable by others: there the socket could be swapped for a link
// while its mode is set.
func ListenLocal(path, group string) (net.Listener, error) {
	if fi, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("local socket: %w", err)
	} else if fi.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("local socket %s: its directory is writable by others", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("local socket %s: exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("local socket %s: %w", path, err)
		}
	}
	gid, mode := -1, os.FileMode(0o600)
	if group != "" {
		mode = 0o660
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("local socket %s: group: %w", path, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("local socket %s: group %s: gid %q", path, group, g.Gid)
		}
	}
	// Made with no access for anyone, then opened to the group: no moment
	// where others could connect.
	old := unix.Umask(0o777)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("local socket: %w", err)
	}
	if err := os.Lchown(path, -1, gid); err != nil {
		l.Close()
		return nil, fmt.Errorf("local socket %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("local socket %s: %w", path, err)
	}
	return l, nil
}

// ServeLocal serves h's read endpoints over plain HTTP on the local socket
// l until ctx ends, as Serve does over HTTPS. Each connection's peer (uid,
// from the kernel) names the reader in the log.
func ServeLocal(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger, grace time.Duration) error {
	srv := newHTTPServer(h, log)
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, localPeer{}, peerOf(c))
	}
	return serve(ctx, srv, l, false, grace)
}

// peerOf names the process at the other end of a Unix connection.
func peerOf(c net.Conn) *peer {
	unknown := &peer{name: "local peer", uid: -1}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return unknown
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return unknown
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || cerr != nil {
		return unknown
	}
	name := "uid " + strconv.FormatUint(uint64(cred.Uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(cred.Uid), 10)); err == nil {
		name += " (" + u.Username + ")"
	}
	return &peer{name: name + " pid " + strconv.Itoa(int(cred.Pid)), uid: int64(cred.Uid)}
}
