package callbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/wishcast/wishcast/httpx"
)

// maxCallBody bounds a call request's JSON.
const maxCallBody = 4 << 10

// historyLimit is how many past calls GET /api/v1/calls/history returns.
const historyLimit = 100

// API serves the calls API. param reads a URL parameter of the router
// ("id"), such as chi.URLParam.
//
//	POST   /api/v1/calls                {"callee": "bob", "codecs": ["VP8", …]}
//	GET    /api/v1/calls                the caller's ringing and active calls
//	GET    /api/v1/calls/history        the caller's past calls
//	GET    /api/v1/calls/{id}
//	POST   /api/v1/calls/{id}/accept    optionally {"codecs": ["VP8", …]}
//
// codecs are the video codecs the page decodes, best first: the other
// side's page sends one of them.
//
//	POST   /api/v1/calls/{id}/decline
//	DELETE /api/v1/calls/{id}           hang up
type API struct {
	b     *Bridge
	param func(r *http.Request, name string) string
}

// API returns the HTTP side of the calls.
func (b *Bridge) API(param func(r *http.Request, name string) string) *API {
	return &API{b: b, param: param}
}

// Place is POST /api/v1/calls.
func (a *API) Place(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	if !httpx.MediaTypeIs(r, "application/json") {
		return httpx.Errorf(http.StatusUnsupportedMediaType, `send JSON: {"callee": "bob"}`)
	}
	body, err := httpx.ReadBody(w, r, maxCallBody)
	if err != nil {
		return err
	}
	var req struct {
		Callee string   `json:"callee"`
		Codecs []string `json:"codecs"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Callee == "" {
		return httpx.Errorf(http.StatusBadRequest, `send JSON: {"callee": "bob"}`)
	}
	if err := checkCodecs(req.Codecs); err != nil {
		return err
	}
	c, err := a.b.Place(r.Context(), p.User, req.Callee, req.Codecs)
	if err != nil {
		return callProblem(err)
	}
	if c.Caller != p.User { // the callee was calling us: that call, answered
		return httpx.WriteJSON(w, http.StatusOK, c)
	}
	w.Header().Set("Location", "/api/v1/calls/"+c.ID)
	return httpx.WriteJSON(w, http.StatusCreated, c)
}

// List is GET /api/v1/calls.
func (a *API) List(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"calls": a.b.Current(p.User)})
}

// History is GET /api/v1/calls/history: the caller's ended calls, newest
// first.
func (a *API) History(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	recs, err := a.b.store.ListCalls(r.Context(), p.User, historyLimit)
	if err != nil {
		return fmt.Errorf("call history: %w", err)
	}
	out := make([]Call, 0, len(recs))
	for _, rec := range recs {
		out = append(out, Call{ID: rec.ID, Caller: rec.Caller, Callee: rec.Callee, State: StateEnded,
			EndReason: rec.EndReason, Created: rec.Started, Ended: rec.Ended})
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"calls": out})
}

// Get is GET /api/v1/calls/{id}.
func (a *API) Get(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	c, err := a.b.Get(r.Context(), a.param(r, "id"), p.User, p.IsAdmin())
	if err != nil {
		return callProblem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, c)
}

// Accept is POST /api/v1/calls/{id}/accept.
func (a *API) Accept(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	var req struct {
		Codecs []string `json:"codecs"`
	}
	if r.ContentLength != 0 {
		if !httpx.MediaTypeIs(r, "application/json") {
			return httpx.Errorf(http.StatusUnsupportedMediaType, `send no body, or JSON: {"codecs": ["VP8"]}`)
		}
		body, err := httpx.ReadBody(w, r, maxCallBody)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return httpx.Errorf(http.StatusBadRequest, `send no body, or JSON: {"codecs": ["VP8"]}`)
		}
		if err := checkCodecs(req.Codecs); err != nil {
			return err
		}
	}
	c, err := a.b.Accept(r.Context(), a.param(r, "id"), p.User, req.Codecs)
	if err != nil {
		return callProblem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, c)
}

// Decline is POST /api/v1/calls/{id}/decline.
func (a *API) Decline(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	c, err := a.b.Decline(r.Context(), a.param(r, "id"), p.User)
	if err != nil {
		return callProblem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, c)
}

// Hangup is DELETE /api/v1/calls/{id}.
func (a *API) Hangup(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	c, err := a.b.Hangup(r.Context(), a.param(r, "id"), p.User, p.IsAdmin())
	if err != nil {
		return callProblem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, c)
}

// callProblem maps a *CallError to its HTTP status.
func callProblem(err error) error {
	var ce *CallError
	if !errors.As(err, &ce) {
		if errors.Is(err, errClosed) {
			return httpx.Errorf(http.StatusServiceUnavailable, "the server is shutting down")
		}
		return err
	}
	status := http.StatusConflict
	switch ce.Code {
	case "not_found":
		status = http.StatusNotFound
	case "forbidden":
		status = http.StatusForbidden
	case "rate_limited":
		status = http.StatusTooManyRequests
	case "unavailable":
		status = http.StatusServiceUnavailable
	}
	return &httpx.Error{Status: status, Detail: ce.Msg, Code: ce.Code, RetryAfter: ce.RetryAfter}
}

// maxCodecs bounds the codec list a page sends with a call.
const maxCodecs = 16

// checkCodecs refuses a codec list that is not a short list of codec
// names ("VP8", "H264").
func checkCodecs(codecs []string) error {
	if len(codecs) > maxCodecs {
		return httpx.Errorf(http.StatusBadRequest, "codecs lists %d codecs; at most %d", len(codecs), maxCodecs)
	}
	for _, c := range codecs {
		if !codecNameRe.MatchString(c) {
			return httpx.Errorf(http.StatusBadRequest, "codecs has %q, which is not a codec name such as VP8 or H264", c)
		}
	}
	return nil
}

// codecNameRe matches a codec name as RTCRtpCodec.mimeType has it after
// the kind.
var codecNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
