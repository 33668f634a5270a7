package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// Live streams are listed for those who may view them; an admin marks a
// live/ stream public, and then anyone may view it without signing in.
func TestStreamsListAndPublic(t *testing.T) {
	ts := newTestServer(t)
	bob := tokenFor(t, ts, "bob")
	startPublisher(t, ts, "live/show", 30)
	eventually(t, 5e9, "live/show to be live", func() bool { return ts.hub.IsLive("live/show") })

	resp, body := apiAs(t, ts, bob, http.MethodGet, "/api/v1/streams", "")
	wantStatus(t, "list", resp, body, http.StatusOK)
	var out struct {
		Streams []struct {
			Name, Kind string
			Public     bool
			Tracks     []struct{ Kind, Codec string }
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Streams) != 1 {
		t.Fatalf("streams: %v %s", err, body)
	}
	if s := out.Streams[0]; s.Name != "live/show" || s.Kind != "live" || s.Public || len(s.Tracks) != 2 {
		t.Fatalf("stream: %+v", s)
	}
	if _, body := apiAs(t, ts, anonymous, http.MethodGet, "/api/v1/streams", ""); strings.Contains(body, "live/show") {
		t.Fatalf("anonymous sees a non-public stream: %s", body)
	}
	offer := offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	if resp, body := post(t, ts, "/whep/live/show", offer, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous WHEP before public: %d %s", resp.StatusCode, body)
	}

	resp, body = apiAs(t, ts, bob, http.MethodPut, "/api/v1/streams/live/show", `{"public":true}`)
	wantStatus(t, "user marks public", resp, body, http.StatusForbidden)
	resp, body = apiAs(t, ts, "", http.MethodPut, "/api/v1/streams/users/bob", `{"public":true}`)
	wantStatus(t, "users/ public", resp, body, http.StatusBadRequest)
	resp, body = apiAs(t, ts, "", http.MethodPut, "/api/v1/streams/live/show", `{"public":true}`)
	wantStatus(t, "admin marks public", resp, body, http.StatusOK)

	if _, body := apiAs(t, ts, anonymous, http.MethodGet, "/api/v1/streams", ""); !strings.Contains(body, `"public":true`) {
		t.Fatalf("anonymous list after public: %s", body)
	}
	offer = offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	resp, body = post(t, ts, "/whep/live/show", offer, "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("anonymous WHEP of a public stream: %d %s", resp.StatusCode, body)
	}

	// The anonymous session answers its own client only: another address
	// that learnt its id gets 404, the client itself ends it.
	session := ts.URL + resp.Header.Get("Location")
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
	}).DialContext}}
	req, _ := http.NewRequest(http.MethodDelete, session, nil)
	req.Header.Set(anonymous, "1")
	oresp, err := other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	oresp.Body.Close()
	if oresp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of an anonymous session from another address: %d, want 404", oresp.StatusCode)
	}
	if resp, body := do(t, http.MethodDelete, session, "", anonymous, "1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE by the client that made it: %d %s", resp.StatusCode, body)
	}
}

// A user who refuses to be watched gets a clear 403 for anyone else; the
// user list shows the choice, and only the user and admins see auto_answer.
func TestAllowWatchAndUserAPI(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"allow_watch":false,"auto_answer":false}`)
	wantStatus(t, "bob's own settings", resp, body, http.StatusOK)
	if !strings.Contains(body, `"allow_watch":false`) || !strings.Contains(body, `"auto_answer":false`) {
		t.Fatalf("settings not saved: %s", body)
	}
	resp, body = apiAs(t, ts, alice, http.MethodGet, "/api/v1/users/bob", "")
	wantStatus(t, "get bob", resp, body, http.StatusOK)
	if !strings.Contains(body, `"allow_watch":false`) || strings.Contains(body, "auto_answer") || !strings.Contains(body, `"online":false`) {
		t.Fatalf("bob as alice sees him: %s", body)
	}
	resp, body = apiAs(t, ts, alice, http.MethodGet, "/api/v1/users/nobody", "")
	wantStatus(t, "unknown user", resp, body, http.StatusNotFound)
	resp, body = apiAs(t, ts, bob, http.MethodGet, "/api/v1/me", "")
	if !strings.Contains(body, `"name":"bob"`) || !strings.Contains(body, `"auto_answer":false`) {
		t.Fatalf("me: %s", body)
	}

	offer := offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	resp, body = post(t, ts, "/whep/users/bob", offer, alice)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "bob does not allow being watched") {
		t.Fatalf("alice watches bob who refuses: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, ts, "/whep/users/bob", offer, ts.AdminToken)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an admin watches bob who refuses: %d %s", resp.StatusCode, body)
	}
}

// Every error body is problem+json with the "error" and "code" members,
// chi's 405 included.
func TestErrorShape(t *testing.T) {
	ts := newTestServer(t)
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/api/v1/nothing", http.StatusNotFound, "not_found"},
		{http.MethodPut, "/api/v1/me", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodPost, "/api/v1/users", http.StatusUnsupportedMediaType, "unsupported_media_type"},
	} {
		resp, body := do(t, c.method, ts.URL+c.path, "")
		var p struct {
			Status      int    `json:"status"`
			Detail      string `json:"detail"`
			Error, Code string
		}
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal([]byte(body), &p) != nil || p.Code != c.code || p.Error == "" || p.Error != p.Detail {
			t.Errorf("%s %s: %d %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
