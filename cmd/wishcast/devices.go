package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/rtsp"
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
// its URL without user name or password.
type deviceJSON struct {
	rtsp.Status
	Stream    string `json:"stream"`
	URL       string `json:"url,omitempty"`
	Transport string `json:"transport,omitempty"`
	AlwaysOn  bool   `json:"always_on,omitempty"`
	Disabled  bool   `json:"disabled,omitempty"`
}

// devices is GET /api/v1/devices: the cameras and their status for
// signed-in users; never a camera's credentials.
func (s *server) devices(w http.ResponseWriter, r *http.Request) error {
	p, err := signedInUser(r)
	if err != nil {
		return err
	}
	list := []deviceJSON{}
	for _, st := range s.cameras.Status() {
		d := deviceJSON{Status: st, Stream: rtsp.Prefix + st.Name}
		if dev, ok := s.catalog.Get(st.Name); ok && p.IsAdmin() {
			d.URL, d.Transport, d.AlwaysOn, d.Disabled = dev.URLWithoutCredentials(), dev.Transport, dev.AlwaysOn, dev.Disabled
		}
		list = append(list, d)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"devices": list})
}

// putDevice is PUT /api/v1/devices/{name} for admins: JSON url, transport,
// always_on and disabled; the device is created or replaced and kept in
// the data directory.
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
	var req struct {
		URL       string `json:"url"`
		Transport string `json:"transport"`
		AlwaysOn  bool   `json:"always_on"`
		Disabled  bool   `json:"disabled"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	_, existed := s.catalog.Get(name)
	d := rtsp.Device{Name: name, URL: req.URL, Transport: req.Transport, AlwaysOn: req.AlwaysOn, Disabled: req.Disabled}
	if err := s.catalog.Add(d); err != nil {
		if errors.Is(err, rtsp.ErrInvalidDevice) {
			return httpx.Errorf(http.StatusBadRequest, "%v", err)
		}
		return fmt.Errorf("save device: %w", err)
	}
	s.log.Info("camera saved", "device", name, "url", d.RedactedURL())
	status := http.StatusOK
	if !existed {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/devices/"+name)
	}
	return writeJSON(w, status, deviceJSON{Status: rtsp.Status{Name: name, State: rtsp.StateIdle}, Stream: rtsp.Prefix + name,
		URL: d.URLWithoutCredentials(), Transport: d.Transport, AlwaysOn: d.AlwaysOn, Disabled: d.Disabled})
}

// deleteDevice is DELETE /api/v1/devices/{name} for admins. Devices from
// settings (and the demo camera) cannot be deleted here.
func (s *server) deleteDevice(w http.ResponseWriter, r *http.Request, name string) error {
	if err := adminUser(r); err != nil {
		return err
	}
	if err := s.catalog.Remove(name); err != nil {
		if errors.Is(err, rtsp.ErrUnknownDevice) {
			return httpx.Errorf(http.StatusNotFound, "no stored camera %q (cameras from settings are changed in the settings)", name)
		}
		return fmt.Errorf("remove device: %w", err)
	}
	s.log.Info("camera removed", "device", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeJSON writes v with status, not to be cached.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is out; a failed write is the client's
	return nil
}
