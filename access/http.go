package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
	"github.com/wishcast/wishcast/transcode"
)

// maxSettingsBody bounds a stream settings body.
const maxSettingsBody = 8 << 10

// streamJSON is a live stream as GET /api/v1/streams shows it.
type streamJSON struct {
	Name    string      `json:"name"`
	Kind    string      `json:"kind"` // the namespace: users, calls, devices, live
	Viewers int         `json:"viewers"`
	Public  bool        `json:"public"`
	Tracks  []trackJSON `json:"tracks"`
}

// trackJSON is one track of a live stream.
type trackJSON struct {
	Kind  string `json:"kind"`
	Codec string `json:"codec"`
	// TranscodedTo lists the codecs the track is transcoded into now, for
	// viewers whose browsers lack its own (GET /api/v1/streams/{name}).
	TranscodedTo []string `json:"transcoded_to,omitempty"`
}

// ListStreams is GET /api/v1/streams: the live streams the caller may
// view (anonymous callers see public ones), by name.
func (r *Rules) ListStreams(w http.ResponseWriter, req *http.Request) error {
	p := auth.PrincipalFrom(req.Context())
	list := []streamJSON{}
	for _, st := range r.hub.Live("") {
		info := r.SafeStreamInfo(req.Context(), st.Name)
		if auth.Authorize(p, auth.ActionView, st.Name, info) != nil {
			continue
		}
		kind, _, _ := strings.Cut(st.Name, "/")
		sj := streamJSON{Name: st.Name, Kind: kind, Viewers: st.Viewers, Public: info.Public, Tracks: []trackJSON{}}
		for _, t := range st.Tracks {
			sj.Tracks = append(sj.Tracks, trackJSON{Kind: t.Kind.String(), Codec: t.Codec.Name()})
		}
		list = append(list, sj)
	}
	slices.SortFunc(list, func(a, b streamJSON) int { return strings.Compare(a.Name, b.Name) })
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"streams": list})
}

// PutStreamSettings is PUT /api/v1/streams/{name...} for admins: JSON
// {"public": true|false} marks a live/ stream or a camera (devices/)
// public (anyone may view it) or not, whether or not it is live now. A
// camera that only some users may watch cannot be public (409). Making a
// stream private ends the viewers who may no longer view it.
func (r *Rules) PutStreamSettings(w http.ResponseWriter, req *http.Request, name string) error {
	p := auth.PrincipalFrom(req.Context())
	switch {
	case p == nil:
		return httpx.Errorf(http.StatusUnauthorized, "sign in to change stream settings").WithHeader("WWW-Authenticate", `Bearer realm="wishcast"`)
	case p.Kind != auth.PrincipalSession:
		// A valid token without the right: 403, not 401 (RFC 6750 §3.1).
		return httpx.Errorf(http.StatusForbidden, "publish keys are for media only; sign in with a password to change stream settings")
	case !p.IsAdmin():
		return httpx.Errorf(http.StatusForbidden, "only admins change stream settings")
	case !httpx.MediaTypeIs(req, "application/json"):
		return httpx.Errorf(http.StatusUnsupportedMediaType, `send JSON: {"public": true}`)
	}
	body, err := httpx.ReadBody(w, req, maxSettingsBody)
	if err != nil {
		return err
	}
	var in struct {
		Public *bool `json:"public"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Public == nil {
		return httpx.Errorf(http.StatusBadRequest, `send JSON: {"public": true} or {"public": false}`)
	}
	if dev, ok := strings.CutPrefix(name, "devices/"); ok && *in.Public {
		info, err := r.devices.StreamInfo(req.Context(), dev)
		if err != nil {
			return fmt.Errorf("stream settings: %w", err)
		}
		if info.Restricted {
			return httpx.Errorf(http.StatusConflict, "camera %s may be watched only by some users; let everyone watch it before making it public", dev).WithCode("restricted")
		}
	}
	if err := r.accounts.SetStreamPublic(req.Context(), name, *in.Public); err != nil {
		if errors.Is(err, auth.ErrInvalid) {
			return httpx.Errorf(http.StatusBadRequest, "%v", err)
		}
		return fmt.Errorf("stream settings: %w", err)
	}
	if !*in.Public {
		r.Recheck(req.Context(), func(st string) bool { return st == name })
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"name": name, "public": *in.Public})
}

// streamInfoJSON is one stream as GET /api/v1/streams/{name...} shows it.
type streamInfoJSON struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Public: anyone, signed in or not, may view it.
	Public bool `json:"public"`
	// MayView: the caller may view it.
	MayView bool `json:"may_view"`
	// Live and Viewers are told only to those who may view it.
	Live    bool `json:"live"`
	Viewers int  `json:"viewers"`
	// Tracks are the live stream's tracks with their codecs and the
	// codecs viewers get them transcoded into now.
	Tracks []trackJSON `json:"tracks,omitempty"`
}

// GetStream is GET /api/v1/streams/{name...}, for anyone: whether the
// stream is public and whether the caller may view it, and, to those who
// may, whether it is live. It answers 200 whoever asks, so that a page
// can tell a sign-in form from a player before it tries; 400 for a name
// outside the namespaces.
func (r *Rules) GetStream(w http.ResponseWriter, req *http.Request, name string) error {
	p := auth.PrincipalFrom(req.Context())
	info := r.SafeStreamInfo(req.Context(), name)
	err := auth.Authorize(p, auth.ActionView, name, info)
	if errors.Is(err, auth.ErrInvalid) {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	kind, _, _ := strings.Cut(name, "/")
	out := streamInfoJSON{Name: name, Kind: kind, MayView: err == nil,
		Public: auth.Authorize(nil, auth.ActionView, name, info) == nil}
	if out.MayView {
		for _, st := range r.hub.Live(name) {
			if st.Name == name {
				out.Live, out.Viewers = true, st.Viewers
				out.Tracks = r.tracks(name, st)
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	return httpx.WriteJSON(w, http.StatusOK, out)
}

// tracks lists a live stream's tracks (one per kind) with the transcodes
// of them that run now.
func (r *Rules) tracks(name string, st stream.Status) []trackJSON {
	to := map[string][]string{}
	for _, tc := range r.hub.Live(transcode.Prefix) {
		_, source, ok := strings.Cut(strings.TrimPrefix(tc.Name, transcode.Prefix), "/")
		if !ok || source != name {
			continue
		}
		for _, t := range tc.Tracks {
			to[t.Kind.String()] = append(to[t.Kind.String()], t.Codec.Name())
		}
	}
	var out []trackJSON
	for _, t := range st.Tracks {
		if len(out) > 0 && out[len(out)-1].Kind == t.Kind.String() {
			continue // another simulcast layer
		}
		out = append(out, trackJSON{Kind: t.Kind.String(), Codec: t.Codec.Name(), TranscodedTo: to[t.Kind.String()]})
	}
	return out
}

// Session is GET /api/v1/session, for anyone: {"signed_in": true} when
// the request carries a sign-in (the app's cookie or a Bearer token of a
// session), else false; 200 either way (an expired token is the
// middleware's 401), so that the app can choose between its sign-in
// form and its pages without a failed request.
func Session(w http.ResponseWriter, req *http.Request) error {
	p := auth.PrincipalFrom(req.Context())
	w.Header().Set("Cache-Control", "no-store")
	return httpx.WriteJSON(w, http.StatusOK, map[string]bool{"signed_in": p != nil && p.Kind == auth.PrincipalSession})
}
