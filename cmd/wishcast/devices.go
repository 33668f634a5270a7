package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/session"
)

// maxDeviceBody bounds a device's JSON.
const maxDeviceBody = 8 << 10

// signedInUser returns the request's signed-in (not publish key)
// principal, or a 401.
func signedInUser(r *http.Request) (*auth.Principal, error) {
	p := auth.PrincipalFrom(r.Context())
	if p == nil || p.Kind != auth.PrincipalSession {
		return nil, httpx.Errorf(http.StatusUnauthorized, "sign in to manage or see the cameras").WithHeader("WWW-Authenticate", `Bearer realm="wishcast"`)
	}
	return p, nil
}

// adminUser is signedInUser for admins only (403 otherwise).
func adminUser(r *http.Request) error {
	p, err := signedInUser(r)
	if err != nil {
		return err
	}
	if !p.IsAdmin() {
		return httpx.Errorf(http.StatusForbidden, "only admins change the cameras")
	}
	return nil
}

// deviceJSON is a camera as the API shows it: its status, and for admins
// its settings, with the URL stripped of user name and password.
type deviceJSON struct {
	rtsp.Status
	Stream     string   `json:"stream"`
	URL        string   `json:"url,omitempty"`
	Transport  string   `json:"transport,omitempty"`
	AlwaysOn   bool     `json:"always_on,omitempty"`
	Disabled   bool     `json:"disabled,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	Allowed    []string `json:"viewers_allowed,omitempty"`
	Stored     bool     `json:"stored,omitempty"`
}

// deviceRequest is the body of PUT /api/v1/devices/{name}.
type deviceRequest struct {
	URL        string   `json:"url"`
	Transport  string   `json:"transport"`
	AlwaysOn   bool     `json:"always_on"`
	Disabled   bool     `json:"disabled"`
	Restricted bool     `json:"restricted"`
	Allowed    []string `json:"viewers_allowed"`
}

// devices is GET /api/v1/devices: the cameras the user may view, with
// their status; never a camera's credentials.
func (s *server) devices(w http.ResponseWriter, r *http.Request) error {
	p, err := signedInUser(r)
	if err != nil {
		return err
	}
	statuses, err := s.cameras.Status(r.Context())
	if err != nil {
		return fmt.Errorf("list cameras: %w", err)
	}
	list := []deviceJSON{}
	for _, st := range statuses {
		dev := st.Device
		if auth.Authorize(p, auth.ActionView, rtsp.Prefix+dev.Name, deviceInfo(dev)) != nil {
			continue
		}
		d := deviceJSON{Status: st, Stream: rtsp.Prefix + st.Name}
		if p.IsAdmin() {
			d.withSettings(dev)
			d.Stored = dev.Stored
		}
		list = append(list, d)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"devices": list})
}

// withSettings fills the admin-only fields.
func (d *deviceJSON) withSettings(dev rtsp.Device) {
	d.URL, d.Transport, d.AlwaysOn, d.Disabled = dev.URLWithoutCredentials(), dev.Transport, dev.AlwaysOn, dev.Disabled
	d.Restricted, d.Allowed = dev.Restricted, dev.Viewers
}

// deviceInfo is what Authorize needs to know of a camera.
func deviceInfo(d rtsp.Device) auth.StreamInfo {
	return auth.StreamInfo{Restricted: d.Restricted, Viewers: d.Viewers}
}

// putDevice is PUT /api/v1/devices/{name} for admins: the device is
// created or replaced in the account database. Replacing a device ends
// the sessions watching it, so that they reconnect to the new settings.
func (s *server) putDevice(w http.ResponseWriter, r *http.Request, name string) error {
	if err := adminUser(r); err != nil {
		return err
	}
	if !httpx.MediaTypeIs(r, "application/json") {
		return httpx.Errorf(http.StatusUnsupportedMediaType, "send the device as JSON")
	}
	body, err := httpx.ReadBody(w, r, maxDeviceBody)
	if err != nil {
		return err
	}
	var req deviceRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "malformed device JSON: %v", err)
	}
	old, err := s.catalog.Get(r.Context(), name)
	if err != nil && !errors.Is(err, rtsp.ErrUnknownDevice) {
		return fmt.Errorf("look up device: %w", err)
	}
	// A camera from the settings (or the demo) may be overridden: it has
	// viewers to move to the new settings all the same.
	known, existed := err == nil, err == nil && old.Stored
	d := rtsp.Device{Name: name, URL: req.URL, Transport: req.Transport, AlwaysOn: req.AlwaysOn,
		Disabled: req.Disabled, Restricted: req.Restricted, Viewers: req.Allowed}
	if err := d.Validate(); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	if err := s.cameras.CheckAddress(r.Context(), d); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err).WithCode("network_refused")
	}
	if err := s.catalog.Add(r.Context(), d); err != nil {
		if errors.Is(err, rtsp.ErrInvalidDevice) {
			return httpx.Errorf(http.StatusBadRequest, "%v", err)
		}
		return fmt.Errorf("save device: %w", err)
	}
	s.log.Info("camera saved", "device", name, "url", d.RedactedURL())
	if known {
		s.endDeviceSessions(name, "the camera's settings changed")
	}
	status := http.StatusOK
	if !existed {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/devices/"+name)
	}
	dj := deviceJSON{Status: rtsp.Status{Name: name, State: rtsp.StateIdle}, Stream: rtsp.Prefix + name, Stored: true}
	dj.withSettings(d)
	return writeJSON(w, status, dj)
}

// deleteDevice is DELETE /api/v1/devices/{name} for admins; whoever
// watches the camera is disconnected. Devices from settings (and the demo
// camera) cannot be deleted here.
func (s *server) deleteDevice(w http.ResponseWriter, r *http.Request, name string) error {
	if err := adminUser(r); err != nil {
		return err
	}
	if err := s.catalog.Remove(r.Context(), name); err != nil {
		if errors.Is(err, rtsp.ErrUnknownDevice) {
			return httpx.Errorf(http.StatusNotFound, "no stored camera %q (cameras from settings are changed in the settings)", name)
		}
		return fmt.Errorf("remove device: %w", err)
	}
	s.log.Info("camera removed", "device", name)
	s.endDeviceSessions(name, "the camera was removed")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endDeviceSessions ends every session on a camera's stream.
func (s *server) endDeviceSessions(name, why string) {
	stream := rtsp.Prefix + name
	n := s.sessions.CloseWhere(func(_, st, _ string) bool { return st == stream }, session.ReasonDevice)
	if n > 0 {
		s.log.Info("camera sessions ended", "device", name, "sessions", n, "why", why)
	}
}

// probeTimeout bounds a device test.
const probeTimeout = 15 * time.Second

// testDevice is POST /api/v1/devices/{name}/test for admins: it dials the
// camera once (DESCRIBE) and says what it offers, or why it failed.
func (s *server) testDevice(w http.ResponseWriter, r *http.Request, name string) error {
	if err := adminUser(r); err != nil {
		return err
	}
	d, err := s.catalog.Get(r.Context(), name)
	if errors.Is(err, rtsp.ErrUnknownDevice) {
		return httpx.Errorf(http.StatusNotFound, "no camera %q", name)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	res, err := s.cameras.Probe(ctx, d)
	out := map[string]any{"ok": err == nil, "video": res.Video, "audio": res.Audio, "warnings": res.Warnings}
	if err != nil {
		out["error"] = err.Error()
	}
	return writeJSON(w, http.StatusOK, out)
}

// writeJSON writes v with status, not to be cached.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is out; a failed write is the client's
	return nil
}
