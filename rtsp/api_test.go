package rtsp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
)

// Who asks, as the sign-in middleware would put it on the request.
var (
	adminP = &auth.Principal{User: "admin", Role: auth.RoleAdmin, Kind: auth.PrincipalSession}
	bobP   = &auth.Principal{User: "bob", Role: auth.RoleUser, Kind: auth.PrincipalSession}
	carolP = &auth.Principal{User: "carol", Role: auth.RoleUser, Kind: auth.PrincipalSession}
	// An admin's publish key is no admin, and no sign-in.
	keyP = &auth.Principal{User: "admin", Kind: auth.PrincipalKey, TokenID: "k1",
		Scope: &auth.Scope{Action: auth.ActionView, Stream: "devices/"}}
)

// apiEnv is the cameras' API on a real catalogue (in memory), puller and
// hub; it records the streams whose sessions the API ended.
type apiEnv struct {
	api *API
	cat *Catalog

	mu    sync.Mutex
	ended []string
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	hub := stream.NewHub(stream.Config{}, nil)
	t.Cleanup(hub.Close)
	e := &apiEnv{cat: NewCatalog(nil)}
	p, err := NewPuller(Config{Timeout: 5 * time.Second}, hub, e.cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e.api = NewAPI(APIOptions{Catalog: e.cat, Puller: p, EndSessions: func(name string) int {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.ended = append(e.ended, name)
		return 1
	}})
	return e
}

// endedStreams returns the streams whose sessions were ended, in order.
func (e *apiEnv) endedStreams() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.ended)
}

// add stores a camera, or keeps it in memory only (a camera from settings).
func (e *apiEnv) add(t *testing.T, d Device, stored bool) {
	t.Helper()
	add := func() error { return e.cat.SetVolatile(d) }
	if stored {
		add = func() error { return e.cat.Add(t.Context(), d) }
	}
	if err := add(); err != nil {
		t.Fatal(err)
	}
}

// serve runs an API handler for p (nil: anonymous) on a request with a
// body of contentType, and returns the response.
func serve(t *testing.T, h httpx.HandlerFunc, p *auth.Principal, method, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	ctx := t.Context()
	if p != nil {
		ctx = auth.WithPrincipal(ctx, p)
	}
	req := httptest.NewRequestWithContext(ctx, method, "/api/v1/devices", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	httpx.Handle(slog.New(slog.DiscardHandler), h).ServeHTTP(rec, req)
	return rec
}

// named is a handler for the camera name.
func named(f func(http.ResponseWriter, *http.Request, string) error, name string) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return f(w, r, name) }
}

type listedDevice struct {
	Name, Stream, URL, Transport string
	Restricted, Stored           bool
	Allowed                      []string `json:"viewers_allowed"`
}

// Each user sees the cameras they may view, with no settings; admins see
// every camera with its settings; nobody ever sees a camera's credentials.
func TestAPIListFiltersAndHidesCredentials(t *testing.T) {
	e := newAPIEnv(t)
	e.add(t, Device{Name: "demo", URL: "rtsp://127.0.0.1:8554/demo"}, false)
	e.add(t, Device{Name: "porch", URL: "rtsp://user:s3cr3t@10.0.0.5/s", Transport: TransportTCP}, true)
	e.add(t, Device{Name: "vault", URL: "rtsp://viewer:hidden@10.0.0.6/s", Restricted: true, Viewers: []string{"carol"}}, true)

	if rec := serve(t, e.api.List, nil, http.MethodGet, "", ""); rec.Code != http.StatusUnauthorized ||
		!strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("anonymous list: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(t, e.api.List, keyP, http.MethodGet, "", ""); rec.Code != http.StatusForbidden {
		t.Fatalf("list with a publish key: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		who  *auth.Principal
		want []string
	}{
		{bobP, []string{"demo", "porch"}},
		{carolP, []string{"demo", "porch", "vault"}},
		{adminP, []string{"demo", "porch", "vault"}},
	} {
		rec := serve(t, e.api.List, tc.who, http.MethodGet, "", "")
		body := rec.Body.String()
		var out struct{ Devices []listedDevice }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("%s lists: %d %v %s", tc.who.User, rec.Code, err, body)
		}
		var got []string
		for _, d := range out.Devices {
			got = append(got, d.Name)
			if d.Stream != Prefix+d.Name {
				t.Errorf("%s: stream %q", d.Name, d.Stream)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s sees %q, want %q", tc.who.User, got, tc.want)
		}
		for _, secret := range []string{"s3cr3t", "hidden", "user:", "viewer:"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s's list shows %q: %s", tc.who.User, secret, body)
			}
		}
		if !tc.who.IsAdmin() {
			if strings.Contains(body, "rtsp://") || strings.Contains(body, "viewers_allowed") {
				t.Errorf("%s sees camera settings: %s", tc.who.User, body)
			}
			continue
		}
		demo, porch, vault := out.Devices[0], out.Devices[1], out.Devices[2]
		if porch.URL != "rtsp://10.0.0.5/s" || porch.Transport != TransportTCP || !porch.Stored || demo.Stored ||
			!vault.Restricted || !slices.Equal(vault.Allowed, []string{"carol"}) {
			t.Errorf("admin's list: %s", body)
		}
	}
}

// Only admins save cameras, as valid JSON with an rtsp:// URL on an
// allowed network; a new camera is 201, a replaced one 200, and replacing
// (not creating) ends the sessions on its stream.
func TestAPIPut(t *testing.T) {
	e := newAPIEnv(t)
	const ctJSON = "application/json"
	put := func(p *auth.Principal, name, contentType, body string) *httptest.ResponseRecorder {
		return serve(t, named(e.api.Put, name), p, http.MethodPut, contentType, body)
	}
	for _, tc := range []struct {
		what        string
		who         *auth.Principal
		contentType string
		body        string
		status      int
		code        string
	}{
		{"anonymous", nil, ctJSON, `{"url":"rtsp://10.0.0.5/s"}`, http.StatusUnauthorized, "unauthorized"},
		{"a key", keyP, ctJSON, `{"url":"rtsp://10.0.0.5/s"}`, http.StatusForbidden, "forbidden"},
		{"a user", bobP, ctJSON, `{"url":"rtsp://10.0.0.5/s"}`, http.StatusForbidden, "forbidden"},
		{"not JSON", adminP, "text/plain", `{"url":"rtsp://10.0.0.5/s"}`, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"malformed JSON", adminP, ctJSON, `{"url":`, http.StatusBadRequest, "invalid_request"},
		{"an unknown field", adminP, ctJSON, `{"url":"rtsp://10.0.0.5/s","password":"x"}`, http.StatusBadRequest, "invalid_request"},
		{"an http URL", adminP, ctJSON, `{"url":"http://10.0.0.5/s"}`, http.StatusBadRequest, "invalid_request"},
		{"a bad transport", adminP, ctJSON, `{"url":"rtsp://10.0.0.5/s","transport":"quic"}`, http.StatusBadRequest, "invalid_request"},
		{"cloud metadata", adminP, ctJSON, `{"url":"rtsp://169.254.169.254/latest"}`, http.StatusBadRequest, "network_refused"},
		{"a public address", adminP, ctJSON, `{"url":"rtsp://192.0.2.7/s"}`, http.StatusBadRequest, "network_refused"},
	} {
		rec := put(tc.who, "porch", tc.contentType, tc.body)
		var problem struct{ Code string }
		_ = json.Unmarshal(rec.Body.Bytes(), &problem)
		if rec.Code != tc.status || problem.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.what, rec.Code, rec.Body, tc.status, tc.code)
		}
	}
	if _, err := e.cat.Get(t.Context(), "porch"); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("a refused request saved the camera: %v", err)
	}

	rec := put(adminP, "porch", ctJSON, `{"url":"rtsp://user:s3cr3t@10.0.0.5/s","transport":"tcp","restricted":true,"viewers_allowed":["carol"]}`)
	if rec.Code != http.StatusCreated || rec.Header().Get("Location") != "/api/v1/devices/porch" ||
		strings.Contains(rec.Body.String(), "s3cr3t") || !strings.Contains(rec.Body.String(), `"url":"rtsp://10.0.0.5/s"`) {
		t.Fatalf("new camera: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	d, err := e.cat.Get(t.Context(), "porch")
	if err != nil || !d.Stored || d.URL != "rtsp://user:s3cr3t@10.0.0.5/s" || d.Transport != TransportTCP ||
		!d.Restricted || !slices.Equal(d.Viewers, []string{"carol"}) {
		t.Fatalf("saved camera: %+v %v", d, err)
	}
	if got := e.endedStreams(); len(got) != 0 {
		t.Fatalf("a new camera ended sessions on %q", got)
	}

	if rec := put(adminP, "porch", ctJSON, `{"url":"rtsp://10.0.0.7/s"}`); rec.Code != http.StatusOK {
		t.Fatalf("replaced camera: %d %s", rec.Code, rec.Body)
	}
	if d, err := e.cat.Get(t.Context(), "porch"); err != nil || d.URL != "rtsp://10.0.0.7/s" || d.Restricted {
		t.Fatalf("replaced camera: %+v %v", d, err)
	}
	if got := e.endedStreams(); !slices.Equal(got, []string{"devices/porch"}) {
		t.Fatalf("replacing ended sessions on %q, want devices/porch", got)
	}

	// A camera from the settings may be overridden: its viewers move too.
	e.add(t, Device{Name: "demo", URL: "rtsp://127.0.0.1:8554/demo"}, false)
	if rec := put(adminP, "demo", ctJSON, `{"url":"rtsp://127.0.0.1:8554/other"}`); rec.Code != http.StatusCreated {
		t.Fatalf("overriding a camera from settings: %d %s", rec.Code, rec.Body)
	}
	if got := e.endedStreams(); !slices.Equal(got, []string{"devices/porch", "devices/demo"}) {
		t.Fatalf("overriding ended sessions on %q", got)
	}
}

// Only stored cameras can be removed (204, ending their sessions); a
// camera from the settings or an unknown one is 404.
func TestAPIDelete(t *testing.T) {
	e := newAPIEnv(t)
	e.add(t, Device{Name: "demo", URL: "rtsp://127.0.0.1:8554/demo"}, false)
	e.add(t, Device{Name: "porch", URL: "rtsp://10.0.0.5/s"}, true)
	del := func(p *auth.Principal, name string) int {
		return serve(t, named(e.api.Delete, name), p, http.MethodDelete, "", "").Code
	}
	for _, tc := range []struct {
		what string
		who  *auth.Principal
		name string
		want int
	}{
		{"anonymous", nil, "porch", http.StatusUnauthorized},
		{"a user", bobP, "porch", http.StatusForbidden},
		{"a camera from settings", adminP, "demo", http.StatusNotFound},
		{"an unknown camera", adminP, "attic", http.StatusNotFound},
	} {
		if got := del(tc.who, tc.name); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, got, tc.want)
		}
	}
	if got := e.endedStreams(); len(got) != 0 {
		t.Fatalf("refused removals ended sessions on %q", got)
	}
	if _, err := e.cat.Get(t.Context(), "demo"); err != nil {
		t.Fatalf("the camera from settings went: %v", err)
	}
	if got := del(adminP, "porch"); got != http.StatusNoContent {
		t.Fatalf("removing a stored camera: %d", got)
	}
	if _, err := e.cat.Get(t.Context(), "porch"); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("removed camera still there: %v", err)
	}
	if got := e.endedStreams(); !slices.Equal(got, []string{"devices/porch"}) {
		t.Fatalf("removing ended sessions on %q, want devices/porch", got)
	}
	if got := del(adminP, "porch"); got != http.StatusNotFound {
		t.Fatalf("second removal: %d", got)
	}
}

// A test of a camera nobody answers for says why it failed, in a 200,
// without the camera's password.
func TestAPITestUnreachableCamera(t *testing.T) {
	e := newAPIEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	e.add(t, Device{Name: "gate", URL: "rtsp://user:s3cr3t@" + addr + "/s", Transport: TransportTCP}, true)
	test := func(p *auth.Principal, name string) *httptest.ResponseRecorder {
		return serve(t, named(e.api.Test, name), p, http.MethodPost, "", "")
	}
	if rec := test(bobP, "gate"); rec.Code != http.StatusForbidden {
		t.Fatalf("a user tests a camera: %d", rec.Code)
	}
	if rec := test(adminP, "attic"); rec.Code != http.StatusNotFound {
		t.Fatalf("test of an unknown camera: %d", rec.Code)
	}
	rec := test(adminP, "gate")
	var out struct {
		OK    *bool
		Error string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK ||
		out.OK == nil || *out.OK || out.Error == "" || strings.Contains(rec.Body.String(), "s3cr3t") {
		t.Fatalf("test of an unreachable camera: %d %v %s", rec.Code, err, rec.Body)
	}
}

// An older version's camera list is imported once: its cameras are
// stored (a stored camera of the same name wins) and the file is renamed.
func TestImportFile(t *testing.T) {
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	cat := NewCatalog(nil)
	if err := cat.Add(ctx, Device{Name: "porch", URL: "rtsp://10.0.0.8/stored"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "devices.json")
	list := `[{"name":"old","url":"rtsp://10.0.0.5/s","transport":"udp","restricted":true,"viewers":["carol"]},
		{"name":"porch","url":"rtsp://10.0.0.9/from-file"}]`
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ImportFile(ctx, file, cat, log); err != nil {
		t.Fatal(err)
	}
	old, err := cat.Get(ctx, "old")
	if err != nil || !old.Stored || old.URL != "rtsp://10.0.0.5/s" || old.Transport != TransportUDP ||
		!old.Restricted || !slices.Equal(old.Viewers, []string{"carol"}) {
		t.Fatalf("imported camera: %+v %v", old, err)
	}
	if porch, err := cat.Get(ctx, "porch"); err != nil || porch.URL != "rtsp://10.0.0.8/stored" {
		t.Fatalf("the stored camera was replaced by the file's: %+v %v", porch, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file is still there: %v", err)
	}
	if b, err := os.ReadFile(file + ".imported"); err != nil || string(b) != list {
		t.Fatalf("the file was not set aside: %v", err)
	}

	// Once imported (or never there) there is nothing to do.
	if err := ImportFile(ctx, file, cat, log); err != nil {
		t.Fatalf("second import: %v", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Fatalf("files after a second import: %v %v", entries, err)
	}
}
