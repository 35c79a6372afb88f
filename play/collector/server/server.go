// Package server is vigil-collector's HTTP side of rec/fleetapi: it
// enrolls hosts' keys with one-time tokens and appends the recording files
// hosts ship to the store (play/collector/pgstore), knowing each host by
// the key of its TLS client certificate; and it serves the stored
// recordings to readers (an enrolled reader's key over HTTPS, or anyone
// who may open the collector's local socket), logging every read.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/store"
)

// maxEnroll bounds an Enroll's body: a host name, a token and a key.
const maxEnroll = 4 << 10

// Handler serves fleetapi's endpoints, the hosts' and the readers'.
type Handler struct {
	store *pgstore.Store
	log   *slog.Logger
	mux   *http.ServeMux
	// appends bounds the appends whose bodies are read: the others wait
	// unread (the sender's TCP window fills), so that 200 hosts catching
	// up at once hold 8 bodies in memory, not 200.
	appends chan struct{}
	// searches bounds the searches under way (maxSearches).
	searches chan struct{}
	// hosts holds the hosts with an append under way: one at a time each,
	// so that one host cannot take every append slot.
	hostsMu sync.Mutex
	hosts   map[string]bool
	// bodyTime is how long an append's body may take to arrive once it
	// has its slot (bodyTimeout; tests shorten it).
	bodyTime time.Duration
	// maxHits bounds a search's hits in one recording (maxSearchHits;
	// tests lower it).
	maxHits int
	// keyHosts is the host of each key recordings were appended with
	// (a key is one host's for good), by the key's bytes: the store checks
	// at each append that the key is still trusted, and a lookup of the
	// key cost a round trip to the database at each request.
	keysMu   sync.Mutex
	keyHosts map[string]string
}

// maxKeyHosts bounds Handler.keyHosts: past it, it starts again.
const maxKeyHosts = 1 << 16

// bodyTimeout bounds the reading of an append's body once it holds one of
// the maxAppends slots: a host trickling a 64 MiB body would otherwise
// hold it for the whole read timeout. vigil-ship sends at most 1 MiB at a
// time (a longer line alone): 30 s is 35 KB/s.
const bodyTimeout = 30 * time.Second

// maxSearches is how many searches run at once; more wait.
const maxSearches = 2

// maxSearchHits bounds the hits of one recording a search holds: they are
// written in the candidates' order, so a recording's hits wait in memory
// while the one before is searched. Beyond, the recording's hits end with
// an error line saying so (a regex matching every line of a 1 GB
// recording would otherwise hold millions).
const maxSearchHits = 10000

// maxAppends is how many appends are read and stored at once: about what
// the database's connections (pgxpool's default: 4 on 2 CPUs, more with
// more) take, twice over so that one is read while another is stored.
const maxAppends = 8

// New returns the collector's handler over st, logging refusals and its
// own trouble to log.
func New(st *pgstore.Store, log *slog.Logger) *Handler {
	h := &Handler{store: st, log: log, mux: http.NewServeMux(), appends: make(chan struct{}, maxAppends),
		searches: make(chan struct{}, maxSearches), hosts: map[string]bool{}, bodyTime: bodyTimeout, maxHits: maxSearchHits,
		keyHosts: map[string]string{}}
	h.mux.HandleFunc("POST "+fleetapi.PathAppend, h.append)
	h.mux.HandleFunc("POST "+fleetapi.PathCommands, h.appendCommands)
	h.mux.HandleFunc("POST "+fleetapi.PathEnroll, h.enroll)
	h.mux.HandleFunc("POST "+fleetapi.PathPurgeRecord, h.purgeRecord)
	h.mux.HandleFunc("POST "+fleetapi.PathHostHolds, h.hostHolds)
	h.mux.HandleFunc("GET "+fleetapi.PathRecordings, h.readHandler(h.recordings))
	h.mux.HandleFunc("GET "+fleetapi.PathRecording, h.readHandler(h.recording))
	h.mux.HandleFunc("GET "+fleetapi.PathKeys, h.readHandler(h.keys))
	h.mux.HandleFunc("GET "+fleetapi.PathSearch, h.readHandler(h.search))
	h.mux.HandleFunc("GET "+fleetapi.PathCommandLog, h.readHandler(h.commandLog))
	h.mux.HandleFunc("POST "+fleetapi.PathHold, h.hold)
	h.mux.HandleFunc("POST "+fleetapi.PathRelease, h.release)
	h.mux.HandleFunc("/", h.other)
	return h
}

// other answers what is not an endpoint's method with a fleetapi.Error,
// as fleetapi promises for every refusal.
func (h *Handler) other(w http.ResponseWriter, r *http.Request) {
	method := ""
	switch r.URL.Path {
	case fleetapi.PathAppend, fleetapi.PathEnroll, fleetapi.PathPurgeRecord, fleetapi.PathHostHolds, fleetapi.PathCommands:
		method = http.MethodPost
	case fleetapi.PathRecordings, fleetapi.PathRecording, fleetapi.PathKeys, fleetapi.PathSearch, fleetapi.PathCommandLog:
		method = http.MethodGet
	}
	if method != "" {
		w.Header().Set("Allow", method)
		reply(w, http.StatusMethodNotAllowed, fleetapi.Error{Error: r.Method + " " + r.URL.Path + ": only " + method})
		return
	}
	reply(w, http.StatusNotFound, fleetapi.Error{Error: r.URL.Path + ": no such endpoint"})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// reply writes v as the JSON body of a reply with status code.
func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the peer gone: nothing to tell it
}

// refuse replies with a fleetapi.Error and logs why, with attrs naming
// the peer.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, code int, err error, attrs ...any) {
	level := slog.LevelWarn
	if code >= 500 {
		level = slog.LevelError
	}
	attrs = append(attrs, "path", r.URL.Path, "remote", r.RemoteAddr, "status", code, "error", err)
	h.log.Log(r.Context(), level, "request refused", attrs...)
	msg := err.Error()
	if code >= 500 {
		msg = "collector error" // the details are the collector's log's, not the peer's
	}
	reply(w, code, fleetapi.Error{Error: msg})
}

// storeStatus is the status of a reply to a store's refusal: 403 for what
// a host is not allowed to do, 400 for what it sent wrong, 500 for the
// collector's own trouble.
func storeStatus(err error) int {
	switch {
	case errors.Is(err, pgstore.ErrUnknownHost), errors.Is(err, pgstore.ErrHostRevoked),
		errors.Is(err, pgstore.ErrKeyRevoked), errors.Is(err, pgstore.ErrUnknownKey),
		errors.Is(err, pgstore.ErrWrongHost), errors.Is(err, pgstore.ErrBadToken),
		errors.Is(err, pgstore.ErrKeyInUse), errors.Is(err, pgstore.ErrRecordForged),
		errors.Is(err, pgstore.ErrCommandsForged):
		return http.StatusForbidden
	case errors.Is(err, pgstore.ErrNotLines), errors.Is(err, pgstore.ErrBadRecord), errors.Is(err, pgstore.ErrBadHolds):
		return http.StatusBadRequest
	case errors.Is(err, pgstore.ErrRecordRewritten):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// peerHost is the enrolled host whose key the client certificate is, and
// the key's id; when there is none, it has refused the request.
func (h *Handler) peerHost(w http.ResponseWriter, r *http.Request) (host, keyID string, ok bool) {
	p, keyID, ok := h.peer(w, r, false)
	return p.Host, keyID, ok
}

// peer is peerHost with the key; cached, the host of a key it found
// before, without checking that neither is revoked since: for appends,
// which the store checks.
func (h *Handler) peer(w http.ResponseWriter, r *http.Request, cached bool) (p pgstore.Peer, keyID string, ok bool) {
	pub, keyID, err := fleetapi.PeerKey(r.TLS)
	if err != nil {
		h.refuse(w, r, http.StatusForbidden, err)
		return p, "", false
	}
	p.Key = pub
	if cached {
		h.keysMu.Lock()
		p.Host = h.keyHosts[string(pub)]
		h.keysMu.Unlock()
		if p.Host != "" {
			return p, keyID, true
		}
	}
	p.Host, _, err = h.store.HostByKey(r.Context(), pub)
	if err != nil {
		attrs := []any{"key", keyID}
		if p.Host != "" { // a revoked key's or host's
			attrs = append(attrs, "host", p.Host)
		}
		h.refuse(w, r, storeStatus(err), err, attrs...)
		return p, keyID, false
	}
	if cached {
		h.keysMu.Lock()
		if len(h.keyHosts) >= maxKeyHosts {
			clear(h.keyHosts)
		}
		h.keyHosts[string(pub)] = p.Host
		h.keysMu.Unlock()
	}
	return p, keyID, true
}

func (h *Handler) append(w http.ResponseWriter, r *http.Request) {
	h.appendTo(w, r, "recording", store.IsRecordingName, true, h.store.AppendFrom)
}

// appendCommands appends to a recording's command log.
func (h *Handler) appendCommands(w http.ResponseWriter, r *http.Request) {
	h.appendTo(w, r, "command log", commands.IsLogName, false,
		func(ctx context.Context, p pgstore.Peer, file string, off int64, data []byte) (int64, error) {
			return h.store.AppendCommands(ctx, p.Host, file, off, data)
		})
}

// appendTo serves an append of whole lines to one of the host's files of
// a kind (what), whose names valid accepts, stored by add, which checks
// the peer's key when the host of the key was cached.
func (h *Handler) appendTo(w http.ResponseWriter, r *http.Request, what string, valid func(string) bool, cached bool,
	add func(ctx context.Context, p pgstore.Peer, file string, off int64, data []byte) (int64, error)) {
	p, keyID, ok := h.peer(w, r, cached)
	if !ok {
		return
	}
	host := p.Host
	file, off, err := appendArgs(r, what, valid)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, err, "key", keyID, "host", host)
		return
	}
	attrs := []any{"key", keyID, "host", host, "file", file, "offset", off}
	if r.ContentLength > fleetapi.MaxAppend {
		h.refuse(w, r, http.StatusRequestEntityTooLarge,
			fmt.Errorf("body of %d bytes, more than %d", r.ContentLength, fleetapi.MaxAppend), attrs...)
		return
	}
	if !h.hostBusy(host) {
		h.refuse(w, r, http.StatusTooManyRequests, errors.New("another append of this host is under way"), attrs...)
		return
	}
	defer h.hostDone(host)
	select {
	case h.appends <- struct{}{}:
		defer func() { <-h.appends }()
	case <-r.Context().Done():
		return // the sender gave up waiting
	}
	data, ok := h.readBody(w, r, fleetapi.MaxAppend, attrs...)
	if !ok {
		return
	}
	acked, err := add(r.Context(), p, file, off, data)
	if err != nil {
		h.refuse(w, r, storeStatus(err), err, attrs...)
		return
	}
	code := http.StatusOK
	if len(data) > 0 && acked != off+int64(len(data)) {
		code = http.StatusConflict
	}
	reply(w, code, fleetapi.Ack{Acked: acked})
}

// readBody reads a host's body of at most max bytes, within the body
// timeout; when !ok it has replied (413, or 400), logging attrs.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, max int64, attrs ...any) (body []byte, ok bool) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.bodyTime))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("body of more than %d bytes", tooLarge.Limit), attrs...)
	case err != nil:
		h.refuse(w, r, http.StatusBadRequest, fmt.Errorf("read the body: %w", err), attrs...)
	default:
		return body, true
	}
	return nil, false
}

// hostBusy marks host as appending, unless it is already.
func (h *Handler) hostBusy(host string) bool {
	h.hostsMu.Lock()
	defer h.hostsMu.Unlock()
	if h.hosts[host] {
		return false
	}
	h.hosts[host] = true
	return true
}

func (h *Handler) hostDone(host string) {
	h.hostsMu.Lock()
	delete(h.hosts, host)
	h.hostsMu.Unlock()
}

// appendArgs reads an append's file name, which valid must accept, and
// offset.
func appendArgs(r *http.Request, what string, valid func(string) bool) (string, int64, error) {
	q := r.URL.Query()
	file := q.Get("file")
	// A base name in the host's directory: the writers name nothing else,
	// and the name is the file's key here. The store holds names as text:
	// valid UTF-8, no NUL, at most a Linux file name's 255 bytes.
	if strings.ContainsAny(file, "/\x00") || !utf8.ValidString(file) || len(file) > 255 || !valid(file) {
		return "", 0, fmt.Errorf("file %q is not the base name of a %s", file, what)
	}
	off, err := strconv.ParseInt(q.Get("offset"), 10, 64)
	if err != nil || off < 0 {
		return "", 0, fmt.Errorf("offset %q is not a byte count", q.Get("offset"))
	}
	return file, off, nil
}

func (h *Handler) enroll(w http.ResponseWriter, r *http.Request) {
	pub, keyID, err := fleetapi.PeerKey(r.TLS)
	if err != nil {
		h.refuse(w, r, http.StatusForbidden, err)
		return
	}
	var e fleetapi.Enroll
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEnroll)).Decode(&e); err != nil {
		h.refuse(w, r, http.StatusBadRequest, fmt.Errorf("enroll request: %w", err), "key", keyID)
		return
	}
	attrs := []any{"key", keyID, "host", e.Host}
	// Proof of possession: the TLS handshake proved the peer holds the
	// certificate's key, so that is the only key it may enroll.
	if !pub.Equal(ed25519.PublicKey(e.PublicKey)) {
		h.refuse(w, r, http.StatusForbidden, errors.New("the key to enroll is not the client certificate's"), attrs...)
		return
	}
	id, err := h.store.Enroll(r.Context(), e.Host, e.Token, pub)
	if err != nil {
		h.refuse(w, r, storeStatus(err), err, attrs...)
		return
	}
	h.log.Info("key enrolled", "key", id, "host", e.Host, "remote", r.RemoteAddr)
	reply(w, http.StatusOK, fleetapi.EnrollReply{Host: e.Host, KeyID: id})
}

// Serve serves h over TLS (fleetapi.ServerConfig with cert) on l until ctx
// ends, then shuts down gracefully: requests under way get up to grace to
// finish. It returns nil after a shutdown that let them all finish.
func Serve(ctx context.Context, l net.Listener, cert tls.Certificate, h http.Handler, log *slog.Logger, grace time.Duration) error {
	srv := newHTTPServer(h, log)
	srv.TLSConfig = fleetapi.ServerConfig(cert)
	return serve(ctx, srv, l, true, grace)
}

// ServeAll serves h over HTTPS on l (Serve) and, when local is not nil,
// over the local socket (ServeLocal), until ctx ends or one of them fails,
// which ends both.
func ServeAll(ctx context.Context, l, local net.Listener, cert tls.Certificate, h http.Handler, log *slog.Logger, grace time.Duration) error {
	if local == nil {
		return Serve(ctx, l, cert, h, log, grace)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- Serve(ctx, l, cert, h, log, grace) }()
	go func() { errs <- ServeLocal(ctx, local, h, log, grace) }()
	err := <-errs
	cancel()
	return errors.Join(err, <-errs)
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h,
		// Bounds against peers holding connections open; an append's
		// body is up to 64 MiB, so reading it may take a while.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// A stream's body waiting for its turn (maxAppends) is buffered
		// by HTTP/2 up to this: 200 hosts at 1 MiB each held 200 MB.
		HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10},
	}
}

func serve(ctx context.Context, srv *http.Server, l net.Listener, useTLS bool, grace time.Duration) error {
	done := make(chan error, 1)
	go func() {
		if useTLS {
			done <- srv.ServeTLS(l, "", "")
		} else {
			done <- srv.Serve(l)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-done
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
