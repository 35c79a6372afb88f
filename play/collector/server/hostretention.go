package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/vigil-rec/vigil/rec/fleetapi"
)

// hostBody reads the body of a host's request of at most max bytes, one
// such request (or append) of a host at a time (readBody). It returns the
// host and the body, and done to call when the request is over; when !ok
// it has replied.
func (h *Handler) hostBody(w http.ResponseWriter, r *http.Request, max int64, attrs ...any) (host string, body []byte, done func(), ok bool) {
	host, keyID, ok := h.peerHost(w, r)
	if !ok {
		return "", nil, nil, false
	}
	attrs = append([]any{"key", keyID, "host", host}, attrs...)
	if !h.hostBusy(host) {
		h.refuse(w, r, http.StatusTooManyRequests, errors.New("another request of this host is under way"), attrs...)
		return "", nil, nil, false
	}
	if body, ok = h.readBody(w, r, max, attrs...); !ok {
		h.hostDone(host)
		return "", nil, nil, false
	}
	return host, body, func() { h.hostDone(host) }, true
}

// purgeRecord keeps one of the host's purge records (fleetapi.PathPurgeRecord).
func (h *Handler) purgeRecord(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("file")
	host, body, done, ok := h.hostBody(w, r, fleetapi.MaxPurgeRecord, "file", name)
	if !ok {
		return
	}
	defer done()
	isNew, err := h.store.AddHostPurgeRecord(r.Context(), host, name, body)
	if err != nil {
		h.refuse(w, r, storeStatus(err), err, "host", host, "file", name)
		return
	}
	if isNew {
		h.log.Info("host purge record stored", "host", host, "file", name)
	}
	reply(w, http.StatusOK, fleetapi.Stored{New: isNew})
}

// hostHolds sets the holds the host has in force (fleetapi.PathHostHolds).
func (h *Handler) hostHolds(w http.ResponseWriter, r *http.Request) {
	host, body, done, ok := h.hostBody(w, r, fleetapi.MaxHostHolds)
	if !ok {
		return
	}
	defer done()
	var hh fleetapi.HostHolds
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hh); err != nil {
		h.refuse(w, r, http.StatusBadRequest, fmt.Errorf("holds: %w", err), "host", host)
		return
	}
	placed, released, err := h.store.SetHostHolds(r.Context(), host, hh.Holds)
	if err != nil {
		h.refuse(w, r, storeStatus(err), err, "host", host)
		return
	}
	if placed > 0 || released > 0 {
		h.log.Info("host holds changed", "host", host, "placed", placed, "released", released, "in_force", len(hh.Holds))
	}
	reply(w, http.StatusOK, fleetapi.HostHoldsReply{Placed: placed, Released: released})
}
