package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/store"
)

// holdRequest reads a HoldRequest from root on the collector's host (over
// the local socket) and returns it with who sent it; anyone else is
// refused. Readers read; placing and lifting holds is the admin's, whom
// the collector knows on its own host only as root.
func (h *Handler) holdRequest(w http.ResponseWriter, r *http.Request) (fleetapi.HoldRequest, string, bool) {
	var req fleetapi.HoldRequest
	p, ok := r.Context().Value(localPeer{}).(*peer)
	if r.TLS != nil || !ok || p.uid != 0 {
		who := "an HTTPS client"
		if ok && r.TLS == nil {
			who = p.name
		}
		h.refuse(w, r, http.StatusForbidden, errors.New("holds are placed and lifted by root on the collector's host, over its local socket"), "peer", who)
		return req, "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, fleetapi.MaxHoldRequest))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	switch {
	case err != nil:
		err = fmt.Errorf("hold request: %w", err)
	case req.Host == "" || req.File == "" || !store.IsRecordingName(req.File):
		err = fmt.Errorf("hold request: want a host and a recording's file name, got %q and %q", req.Host, req.File)
	}
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, err, "peer", p.name)
		return req, "", false
	}
	// Root may name anyone; the kernel's word on the peer goes with it.
	by := p.name
	if req.By != "" {
		by = req.By + " via " + p.name
	}
	return req, by, true
}

// holdStatus is the status of a reply to a hold or release the store
// refused.
func holdStatus(err error) int {
	switch {
	case errors.Is(err, pgstore.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, pgstore.ErrHeld), errors.Is(err, pgstore.ErrNotHeld):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (h *Handler) hold(w http.ResponseWriter, r *http.Request) {
	req, by, ok := h.holdRequest(w, r)
	if !ok {
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		h.refuse(w, r, http.StatusBadRequest, errors.New("a hold needs a reason (a case number, a request)"), "by", by)
		return
	}
	if err := h.store.Hold(r.Context(), req.Host, req.File, req.Reason, by); err != nil {
		h.refuse(w, r, holdStatus(err), err, "by", by)
		return
	}
	h.log.Info("hold placed", "host", req.Host, "file", req.File, "by", by, "reason", req.Reason)
	reply(w, http.StatusOK, store.Hold{File: req.File, Since: time.Now().UTC(), By: by, Reason: req.Reason})
}

func (h *Handler) release(w http.ResponseWriter, r *http.Request) {
	req, by, ok := h.holdRequest(w, r)
	if !ok {
		return
	}
	old, err := h.store.Release(r.Context(), req.Host, req.File, by)
	if err != nil {
		h.refuse(w, r, holdStatus(err), err, "by", by)
		return
	}
	h.log.Info("hold released", "host", req.Host, "file", req.File, "by", by, "held_by", old.By, "reason", old.Reason)
	reply(w, http.StatusOK, store.Hold{File: old.File, Since: old.Since, By: old.By, Reason: old.Reason})
}
