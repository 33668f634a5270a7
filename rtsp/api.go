package rtsp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
)

// maxDeviceBody bounds a device's JSON.
const maxDeviceBody = 8 << 10

// probeTimeout bounds a device test.
const probeTimeout = 15 * time.Second

// APIOptions are what the cameras' JSON API works on.
type APIOptions struct {
	Catalog *Catalog
	Puller  *Puller
	// EndSessions ends every session on a camera's stream (devices/{name})
	// once the camera changed or went, and returns how many it ended.
	EndSessions func(stream string) int
	// Transcodes reports whether a viewer whose browser cannot decode a
	// track of codec c gets it transcoded into one it can (FFmpeg is
	// there to do it); nil means never.
	Transcodes func(c stream.Codec) bool
	Log        *slog.Logger
}

// API serves /api/v1/devices: the cameras a user may view with their
// state, and for admins adding, replacing, removing and testing them.
type API struct {
	cat  *Catalog
	cams *Puller
	end  func(stream string) int
	tc   func(stream.Codec) bool
	log  *slog.Logger
}

// NewAPI returns the cameras' JSON API.
func NewAPI(o APIOptions) *API {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.EndSessions == nil {
		o.EndSessions = func(string) int { return 0 }
	}
	if o.Transcodes == nil {
		o.Transcodes = func(stream.Codec) bool { return false }
	}
	return &API{cat: o.Catalog, cams: o.Puller, end: o.EndSessions, tc: o.Transcodes, log: o.Log}
}

// StreamInfo returns what auth.Authorize needs to know of the camera
// device (the zero value for a name the catalogue does not hold).
func (c *Catalog) StreamInfo(ctx context.Context, device string) (auth.StreamInfo, error) {
	d, err := c.Get(ctx, device)
	switch {
	case errors.Is(err, ErrUnknownDevice):
		return auth.StreamInfo{}, nil
	case err != nil:
		return auth.StreamInfo{}, err
	}
	return d.StreamInfo(), nil
}

// StreamInfo is what auth.Authorize needs to know of the camera.
func (d Device) StreamInfo() auth.StreamInfo {
	return auth.StreamInfo{Restricted: d.Restricted, Viewers: d.Viewers}
}

// signedIn returns the request's signed-in (not publish key) principal:
// anonymous requests are 401, publish keys (valid tokens without the
// right, RFC 6750 §3.1) 403, as in the accounts API.
func signedIn(r *http.Request) (*auth.Principal, error) {
	p := auth.PrincipalFrom(r.Context())
	switch {
	case p == nil:
		return nil, httpx.Errorf(http.StatusUnauthorized, "sign in to manage or see the cameras").WithHeader("WWW-Authenticate", `Bearer realm="wishcast"`)
	case p.Kind != auth.PrincipalSession:
		return nil, httpx.Errorf(http.StatusForbidden, "publish keys are for media only; sign in with a password to manage or see the cameras")
	}
	return p, nil
}

// admin is signedIn for admins only (403 otherwise).
func admin(r *http.Request) error {
	p, err := signedIn(r)
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
	Status
	Stream     string   `json:"stream"`
	URL        string   `json:"url,omitempty"`
	Transport  string   `json:"transport,omitempty"`
	AlwaysOn   bool     `json:"always_on,omitempty"`
	Disabled   bool     `json:"disabled,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	Allowed    []string `json:"viewers_allowed,omitempty"`
	Stored     bool     `json:"stored,omitempty"`
	// Transcoded are the codecs (as in Status.Codecs) that browsers which
	// cannot decode them get transcoded; the others of the camera's codecs
	// that not every browser decodes play only where the browser does.
	Transcoded []string `json:"transcoded,omitempty"`
	// SomeBrowsers are the codecs (as in Status.Codecs) that not every
	// browser decodes and that are not transcoded: only browsers that
	// decode them can watch the camera.
	SomeBrowsers []string `json:"only_some_browsers,omitempty"`
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

// List is GET /api/v1/devices: the cameras the user may view, with their
// status; never a camera's credentials.
func (a *API) List(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	statuses, err := a.cams.Status(r.Context())
	if err != nil {
		return fmt.Errorf("list cameras: %w", err)
	}
	list := []deviceJSON{}
	for _, st := range statuses {
		dev := st.Device
		if auth.Authorize(p, auth.ActionView, Prefix+dev.Name, dev.StreamInfo()) != nil {
			continue
		}
		d := deviceJSON{Status: st, Stream: Prefix + st.Name}
		d.Transcoded, d.SomeBrowsers = a.split(st.NotEveryBrowser)
		if p.IsAdmin() {
			d.withSettings(dev)
			d.Stored = dev.Stored
		}
		list = append(list, d)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"devices": list})
}

// split sorts the tracks that not every browser decodes into those
// transcoded for such browsers and those only some browsers play.
func (a *API) split(tracks []stream.TrackStatus) (transcoded, some []string) {
	for _, t := range tracks {
		if a.tc(t.Codec) {
			transcoded = append(transcoded, codecName(t))
		} else {
			some = append(some, codecName(t))
		}
	}
	return transcoded, some
}

// withSettings fills the admin-only fields.
func (d *deviceJSON) withSettings(dev Device) {
	d.URL, d.Transport, d.AlwaysOn, d.Disabled = dev.URLWithoutCredentials(), dev.Transport, dev.AlwaysOn, dev.Disabled
	d.Restricted, d.Allowed = dev.Restricted, dev.Viewers
}

// Put is PUT /api/v1/devices/{name} for admins: the device is created or
// replaced in the catalogue's store. Replacing a device ends the sessions
// watching it, so that they reconnect to the new settings.
func (a *API) Put(w http.ResponseWriter, r *http.Request, name string) error {
	if err := admin(r); err != nil {
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
	old, err := a.cat.Get(r.Context(), name)
	if err != nil && !errors.Is(err, ErrUnknownDevice) {
		return fmt.Errorf("look up device: %w", err)
	}
	// A camera from the settings (or the demo) may be overridden: it has
	// viewers to move to the new settings all the same.
	known, existed := err == nil, err == nil && old.Stored
	d := Device{Name: name, URL: req.URL, Transport: req.Transport, AlwaysOn: req.AlwaysOn,
		Disabled: req.Disabled, Restricted: req.Restricted, Viewers: req.Allowed}
	if err := d.Validate(); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	if err := a.cams.CheckAddress(r.Context(), d); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err).WithCode("network_refused")
	}
	if err := a.cat.Add(r.Context(), d); err != nil {
		if errors.Is(err, ErrInvalidDevice) {
			return httpx.Errorf(http.StatusBadRequest, "%v", err)
		}
		return fmt.Errorf("save device: %w", err)
	}
	a.log.Info("camera saved", "device", name, "url", d.RedactedURL())
	a.cams.forget(Prefix + name)
	if known {
		a.endSessions(name, "the camera's settings changed")
	}
	status := http.StatusOK
	if !existed {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/devices/"+name)
	}
	dj := deviceJSON{Status: Status{Name: name, State: StateIdle}, Stream: Prefix + name, Stored: true}
	dj.withSettings(d)
	return httpx.WriteJSON(w, status, dj)
}

// Delete is DELETE /api/v1/devices/{name} for admins; whoever watches the
// camera is disconnected. Devices from settings (and the demo camera)
// cannot be deleted here.
func (a *API) Delete(w http.ResponseWriter, r *http.Request, name string) error {
	if err := admin(r); err != nil {
		return err
	}
	if err := a.cat.Remove(r.Context(), name); err != nil {
		if errors.Is(err, ErrUnknownDevice) {
			return httpx.Errorf(http.StatusNotFound, "no stored camera %q (cameras from settings are changed in the settings)", name)
		}
		return fmt.Errorf("remove device: %w", err)
	}
	a.log.Info("camera removed", "device", name)
	a.endSessions(name, "the camera was removed")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endSessions ends every session on a camera's stream.
func (a *API) endSessions(name, why string) {
	a.cams.forget(Prefix + name)
	if n := a.end(Prefix + name); n > 0 {
		a.log.Info("camera sessions ended", "device", name, "sessions", n, "why", why)
	}
}

// Test is POST /api/v1/devices/{name}/test for admins: it dials the
// camera once (DESCRIBE) and says what it offers, or why it failed.
func (a *API) Test(w http.ResponseWriter, r *http.Request, name string) error {
	if err := admin(r); err != nil {
		return err
	}
	d, err := a.cat.Get(r.Context(), name)
	if errors.Is(err, ErrUnknownDevice) {
		return httpx.Errorf(http.StatusNotFound, "no camera %q", name)
	}
	if err != nil {
		return fmt.Errorf("look up device: %w", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	res, err := a.cams.Probe(ctx, d)
	out := map[string]any{"ok": err == nil, "video": res.Video, "audio": res.Audio, "warnings": res.Warnings}
	if err != nil {
		out["error"] = err.Error()
	} else if codecs, every, some, ok := a.cams.summaryOf(Prefix + name); ok {
		// The codecs as the device list shows them (the test remembered
		// them), so the page can say whether this browser plays them.
		transcoded, only := a.split(some)
		out["codecs"], out["every_browser"], out["transcoded"], out["only_some_browsers"] = codecs, every, transcoded, only
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}
