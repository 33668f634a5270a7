package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/stream"
)

// streamJSON is a live stream as GET /api/v1/streams shows it.
type streamJSON struct {
	Name    string      `json:"name"`
	Kind    string      `json:"kind"` // the namespace: users, calls, devices, live
	Viewers int         `json:"viewers"`
	Public  bool        `json:"public"`
	Tracks  []trackJSON `json:"tracks"`
}

type trackJSON struct {
	Kind  string `json:"kind"`
	Codec string `json:"codec"`
}

// liveStreams is GET /api/v1/streams: the live streams the caller may
// view (anonymous callers see public ones), by name.
func (s *server) liveStreams(w http.ResponseWriter, r *http.Request) error {
	p := auth.PrincipalFrom(r.Context())
	list := []streamJSON{}
	for _, st := range s.hub.Live("") {
		info := s.streamInfo(st.Name)
		if auth.Authorize(p, auth.ActionView, st.Name, info) != nil {
			continue
		}
		kind, _, _ := strings.Cut(st.Name, "/")
		sj := streamJSON{Name: st.Name, Kind: kind, Viewers: st.Viewers, Public: info.Public, Tracks: []trackJSON{}}
		for _, t := range st.Tracks {
			sj.Tracks = append(sj.Tracks, trackJSON{Kind: t.Kind.String(), Codec: codecName(t.Codec)})
		}
		list = append(list, sj)
	}
	slices.SortFunc(list, func(a, b streamJSON) int { return strings.Compare(a.Name, b.Name) })
	return writeJSON(w, http.StatusOK, map[string]any{"streams": list})
}

// streamInfo tells Authorize what the stream name does not: a camera's
// viewer list, a call's participants, whether a live stream is public,
// whether a user refuses to be watched. When the store fails it errs on
// the safe side: a camera or user stream only admins (or the user) may
// view, a live stream that is not public.
func (s *server) streamInfo(name string) auth.StreamInfo {
	info, err := s.lookupStreamInfo(context.Background(), name)
	if err != nil {
		s.log.Warn("stream permissions look-up failed; allowing only what is safe", "stream", name, "err", err)
	}
	return info
}

// lookupStreamInfo is streamInfo with the store's error, and the safe
// answer alongside it.
func (s *server) lookupStreamInfo(ctx context.Context, name string) (auth.StreamInfo, error) {
	ns, rest, _ := strings.Cut(name, "/")
	switch ns {
	case "devices":
		d, err := s.catalog.Get(ctx, rest)
		switch {
		case errors.Is(err, rtsp.ErrUnknownDevice):
			return auth.StreamInfo{}, nil
		case err != nil:
			return auth.StreamInfo{Restricted: true}, err
		}
		return deviceInfo(d), nil
	case "calls":
		return s.bridge.StreamInfo(name), nil
	case "live":
		public, err := s.accounts.StreamPublic(ctx, name)
		return auth.StreamInfo{Public: public && err == nil}, err
	case "users":
		u, err := s.accounts.GetUser(ctx, rest)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			return auth.StreamInfo{}, nil
		case err != nil:
			return auth.StreamInfo{Private: true}, err
		}
		return auth.StreamInfo{Private: !u.AllowWatch}, nil
	}
	return auth.StreamInfo{}, nil
}

// codecName is "H264" for "video/H264".
func codecName(c stream.Codec) string {
	_, name, _ := strings.Cut(c.MimeType, "/")
	return name
}

// putStreamSettings is PUT /api/v1/streams/{name...} for admins: JSON
// {"public": true|false} marks a live/ stream public (anyone may view it)
// or not, whether or not it is live now.
func (s *server) putStreamSettings(w http.ResponseWriter, r *http.Request, name string) error {
	if err := adminUser(r); err != nil {
		return err
	}
	if !httpx.MediaTypeIs(r, "application/json") {
		return httpx.Errorf(http.StatusUnsupportedMediaType, `send JSON: {"public": true}`)
	}
	body, err := httpx.ReadBody(w, r, maxDeviceBody)
	if err != nil {
		return err
	}
	var req struct {
		Public *bool `json:"public"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Public == nil {
		return httpx.Errorf(http.StatusBadRequest, `send JSON: {"public": true} or {"public": false}`)
	}
	if err := s.accounts.SetStreamPublic(r.Context(), name, *req.Public); err != nil {
		if httpErr := storeProblem(err); httpErr != nil {
			return httpErr
		}
		return fmt.Errorf("stream settings: %w", err)
	}
	if !*req.Public {
		s.recheckSessions(r.Context(), func(st string) bool { return st == name })
	}
	return writeJSON(w, http.StatusOK, map[string]any{"name": name, "public": *req.Public})
}

// storeProblem maps the store's validation errors to a 400, else nil.
func storeProblem(err error) error {
	if err != nil && errors.Is(err, auth.ErrInvalid) {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}
