package access_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wishcast/wishcast/access"
	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
)

// handler serves the streams API as the server routes it, behind the
// account store's sign-in middleware.
func (e *env) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/streams", httpx.Handle(e.log, e.rules.ListStreams))
	mux.Handle("GET /api/v1/streams/{name...}", httpx.Handle(e.log, func(w http.ResponseWriter, r *http.Request) error {
		return e.rules.GetStream(w, r, r.PathValue("name"))
	}))
	mux.Handle("GET /api/v1/session", httpx.Handle(e.log, access.Session))
	mux.Handle("PUT /api/v1/streams/{name...}", httpx.Handle(e.log, func(w http.ResponseWriter, r *http.Request) error {
		return e.rules.PutStreamSettings(w, r, r.PathValue("name"))
	}))
	return auth.NewHandlers(e.store, e.log).Middleware(mux)
}

// signIn returns a sign-in token of user.
func (e *env) signIn(t *testing.T, user string) string {
	t.Helper()
	_, tok, err := e.store.Login(t.Context(), user, password, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call makes a request with token ("" for none) and a JSON body (none if
// empty) and returns the response.
func call(t *testing.T, h http.Handler, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type listed struct {
	Name, Kind string
	Viewers    int
	Public     bool
	Tracks     []struct{ Kind, Codec string }
}

// list returns the stream list token's user sees.
func list(t *testing.T, h http.Handler, token string) []listed {
	t.Helper()
	rec := call(t, h, http.MethodGet, "/api/v1/streams", token, "", "")
	var out struct{ Streams []listed }
	if rec.Code != http.StatusOK {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("list: %v: %s", err, rec.Body)
	}
	return out.Streams
}

func names(l []listed) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.Name)
	}
	return out
}

// publish makes name live with the given codecs (audio first).
func (e *env) publish(t *testing.T, name string, mimeTypes ...string) {
	t.Helper()
	var tracks []stream.TrackInfo
	for _, m := range mimeTypes {
		k, rate := stream.Video, uint32(90000)
		if strings.HasPrefix(m, "audio/") {
			k, rate = stream.Audio, 48000
		}
		tracks = append(tracks, stream.TrackInfo{Kind: k, Codec: stream.Codec{MimeType: m, ClockRate: rate}})
	}
	pub, err := e.hub.Publish(name, tracks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
}

// Each caller sees, by name, the live streams it may view: anonymous
// callers the public ones, a restricted camera's stream only the users it
// lists and admins, a call's stream only the other participant.
func TestListStreamsShowsWhatCallerMayView(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	if err := e.store.SetStreamPublic(t.Context(), "live/pub", true); err != nil {
		t.Fatal(err)
	}
	e.addCamera(t, "vault", "carol")
	e.calls.streamInfo = func(name string) auth.StreamInfo {
		if strings.HasPrefix(name, "calls/c1/") {
			return auth.StreamInfo{Caller: "bob", Callee: "carol"}
		}
		return auth.StreamInfo{}
	}
	e.publish(t, "users/bob", "video/VP8")
	e.publish(t, "live/pub", "audio/opus", "video/H264")
	e.publish(t, "devices/vault", "video/H264")
	e.publish(t, "live/priv", "video/VP8")
	e.publish(t, "calls/c1/bob", "video/VP8")
	lease, err := e.hub.Acquire(t.Context(), "live/pub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lease.Release)

	for _, tc := range []struct {
		who, token string
		want       []string
	}{
		{"anonymous", "", []string{"live/pub"}},
		{"bob", e.signIn(t, "bob"), []string{"live/priv", "live/pub", "users/bob"}},
		{"carol", e.signIn(t, "carol"), []string{"calls/c1/bob", "devices/vault", "live/priv", "live/pub", "users/bob"}},
		{"admin", e.signIn(t, "admin"), []string{"devices/vault", "live/priv", "live/pub", "users/bob"}},
	} {
		got := list(t, h, tc.token)
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("%s sees %q, want %q", tc.who, names(got), tc.want)
		}
	}
	pub := list(t, h, "")[0]
	if pub.Kind != "live" || !pub.Public || pub.Viewers != 1 || len(pub.Tracks) != 2 ||
		pub.Tracks[0].Kind != "audio" || pub.Tracks[0].Codec != "opus" ||
		pub.Tracks[1].Kind != "video" || pub.Tracks[1].Codec != "H264" {
		t.Fatalf("live/pub listed as %+v", pub)
	}
}

// Only admins change stream settings, with {"public": bool} on a live/
// stream; the change shows in the list, and making a stream private ends
// its anonymous viewers.
func TestPutStreamSettings(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	admin, bob := e.signIn(t, "admin"), e.signIn(t, "bob")
	_, adminKey, err := e.store.CreateToken(t.Context(), "admin", auth.Scope{Action: auth.ActionPublish, Stream: "live/show"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const show, ctJSON = "/api/v1/streams/live/show", "application/json"
	for _, tc := range []struct {
		what, path, token, contentType, body string
		want                                 int
	}{
		{"anonymous", show, "", ctJSON, `{"public":true}`, http.StatusUnauthorized},
		{"an admin's publish key", show, adminKey, ctJSON, `{"public":true}`, http.StatusForbidden},
		{"a user", show, bob, ctJSON, `{"public":true}`, http.StatusForbidden},
		{"not JSON", show, admin, "text/plain", `{"public":true}`, http.StatusUnsupportedMediaType},
		{"malformed JSON", show, admin, ctJSON, `{"public":`, http.StatusBadRequest},
		{"no public field", show, admin, ctJSON, `{}`, http.StatusBadRequest},
		{"a string", show, admin, ctJSON, `{"public":"yes"}`, http.StatusBadRequest},
		{"an unknown field", show, admin, ctJSON, `{"public":true,"secret":1}`, http.StatusBadRequest},
		{"a user's stream", "/api/v1/streams/users/bob", admin, ctJSON, `{"public":true}`, http.StatusBadRequest},
		{"a call's stream", "/api/v1/streams/calls/c1/bob", admin, ctJSON, `{"public":true}`, http.StatusBadRequest},
	} {
		rec := call(t, h, http.MethodPut, tc.path, tc.token, tc.contentType, tc.body)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.what, rec.Code, rec.Body, tc.want)
		}
		if tc.want == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without a Bearer challenge", tc.what)
		}
	}
	if public, err := e.store.StreamPublic(t.Context(), "live/show"); err != nil || public {
		t.Fatalf("refused requests made live/show public (%v, %v)", public, err)
	}

	e.publish(t, "live/show", "video/H264")
	if rec := call(t, h, http.MethodPut, show, admin, ctJSON, `{"public":true}`); rec.Code != http.StatusOK ||
		!strings.Contains(rec.Body.String(), `"public":true`) {
		t.Fatalf("admin makes live/show public: %d %s", rec.Code, rec.Body)
	}
	if got := names(list(t, h, "")); !slices.Equal(got, []string{"live/show"}) {
		t.Fatalf("anonymous sees %q after live/show went public", got)
	}
	anonymous := e.open(t, "whep", "live/show", "")
	carol := e.open(t, "whep", "live/show", "carol")
	publisher := e.open(t, "whip", "live/show", "admin")
	if rec := call(t, h, http.MethodPut, show, admin, ctJSON, `{"public":false}`); rec.Code != http.StatusOK {
		t.Fatalf("admin makes live/show private: %d %s", rec.Code, rec.Body)
	}
	ended(t, anonymous)
	running(t, e, carol, publisher)
	if got := list(t, h, ""); len(got) != 0 {
		t.Fatalf("anonymous sees %q after live/show went private", names(got))
	}
}

// A camera can be public like a live stream, unless only some users may
// watch it; making it private again ends its anonymous viewers.
func TestPublicCamera(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	admin := e.signIn(t, "admin")
	e.addCamera(t, "porch")
	e.addCamera(t, "vault", "carol")
	const ctJSON = "application/json"
	if rec := call(t, h, http.MethodPut, "/api/v1/streams/devices/vault", admin, ctJSON, `{"public":true}`); rec.Code != http.StatusConflict ||
		!strings.Contains(rec.Body.String(), "only by some users") {
		t.Fatalf("make a restricted camera public: %d %s, want 409", rec.Code, rec.Body)
	}
	if rec := call(t, h, http.MethodPut, "/api/v1/streams/devices/porch", admin, ctJSON, `{"public":true}`); rec.Code != http.StatusOK {
		t.Fatalf("make a camera public: %d %s", rec.Code, rec.Body)
	}
	e.publish(t, "devices/porch", "video/H264")
	if got := names(list(t, h, "")); !slices.Equal(got, []string{"devices/porch"}) {
		t.Fatalf("anonymous sees %q, want the public camera", got)
	}
	anonymous := e.open(t, "whep", "devices/porch", "")
	bob := e.open(t, "whep", "devices/porch", "bob")
	if rec := call(t, h, http.MethodPut, "/api/v1/streams/devices/porch", admin, ctJSON, `{"public":false}`); rec.Code != http.StatusOK {
		t.Fatalf("make the camera private: %d %s", rec.Code, rec.Body)
	}
	ended(t, anonymous)
	running(t, e, bob)
}

// GET /api/v1/streams/{name} answers anyone with 200: whether the stream
// is public, whether the caller may view it, and to those who may,
// whether it is live.
func TestGetStream(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	bob := e.signIn(t, "bob")
	if err := e.store.SetStreamPublic(t.Context(), "live/pub", true); err != nil {
		t.Fatal(err)
	}
	e.addCamera(t, "vault", "carol")
	e.publish(t, "live/pub", "video/H264")
	e.publish(t, "live/priv", "video/H264")
	type got struct {
		Name    string
		Public  bool `json:"public"`
		MayView bool `json:"may_view"`
		Live    bool `json:"live"`
	}
	for _, tc := range []struct {
		who, token, name      string
		public, mayView, live bool
	}{
		{"anonymous", "", "live/pub", true, true, true},
		{"anonymous", "", "live/priv", false, false, false},
		{"anonymous", "", "live/none", false, false, false},
		{"anonymous", "", "users/bob", false, false, false},
		{"bob", bob, "live/priv", false, true, true},
		{"bob", bob, "live/pubx", false, true, false},
		{"bob", bob, "devices/vault", false, false, false},
	} {
		rec := call(t, h, http.MethodGet, "/api/v1/streams/"+tc.name, tc.token, "", "")
		var g got
		if err := json.Unmarshal(rec.Body.Bytes(), &g); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("%s GET %s: %d %s", tc.who, tc.name, rec.Code, rec.Body)
		}
		if g.Name != tc.name || g.Public != tc.public || g.MayView != tc.mayView || g.Live != tc.live {
			t.Errorf("%s GET %s: %s; want public %v, may_view %v, live %v", tc.who, tc.name, rec.Body, tc.public, tc.mayView, tc.live)
		}
	}
	if rec := call(t, h, http.MethodGet, "/api/v1/streams/other/x", "", "", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("GET a name outside the namespaces: %d %s", rec.Code, rec.Body)
	}
}

// GET /api/v1/session says whether the request is signed in, with 200
// either way.
func TestSession(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	for _, tc := range []struct {
		who, token, want string
	}{
		{"anonymous", "", `{"signed_in":false}`},
		{"bob", e.signIn(t, "bob"), `{"signed_in":true}`},
		{"a publish key", e.keyToken(t, "bob", "users/bob"), `{"signed_in":false}`},
	} {
		rec := call(t, h, http.MethodGet, "/api/v1/session", tc.token, "", "")
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != tc.want {
			t.Errorf("%s: %d %s, want 200 %s", tc.who, rec.Code, rec.Body, tc.want)
		}
	}
}
