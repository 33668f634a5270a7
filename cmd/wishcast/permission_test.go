package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/auth"
)

// tokenFor creates user (unless it is "admin") and signs them in.
func tokenFor(t *testing.T, ts *testServer, user string) string {
	t.Helper()
	ctx := context.Background()
	if user != "admin" {
		if _, err := ts.accounts.CreateUser(ctx, auth.NewUser{Name: user, Password: "password-" + user}); err != nil {
			t.Fatal(err)
		}
	}
	pw := testAdminPassword
	if user != "admin" {
		pw = "password-" + user
	}
	_, tok, err := ts.accounts.Login(ctx, user, pw, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// offerOf returns a fresh pion offer with one video section in the
// direction given.
func offerOf(t *testing.T, dir webrtc.RTPTransceiverDirection) string {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
		t.Fatal(err)
	}
	return offerFor(t, pc)
}

// post sends an offer as who: "" for anonymous, else a bearer token.
func post(t *testing.T, ts *testServer, path, offer, token string) (*http.Response, string) {
	t.Helper()
	hdr := []string{"Content-Type", "application/sdp"}
	if token == "" {
		hdr = append(hdr, anonymous, "1")
	} else {
		hdr = append(hdr, "Authorization", "Bearer "+token)
	}
	return do(t, http.MethodPost, ts.URL+path, offer, hdr...)
}

// The permission table through WHIP and WHEP: 401 with a Bearer challenge
// when signing in would help, 403 insufficient_scope when it would not.
func TestStreamPermissions(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	bob := tokenFor(t, ts, "bob")
	_, obsKey, err := ts.accounts.CreateToken(ctx, "admin", auth.Scope{Action: auth.ActionPublish, Stream: "live/obs"}, "OBS", 0)
	if err != nil {
		t.Fatal(err)
	}
	send := offerOf(t, webrtc.RTPTransceiverDirectionSendonly)
	cases := []struct {
		name, path, token string
		status            int
	}{
		{"anonymous publish", "/whip/live/a", "", 401},
		{"user publishes live without a key", "/whip/live/a", bob, 403},
		{"user publishes someone else's user stream", "/whip/users/carol", bob, 403},
		{"key outside its scope", "/whip/live/other", obsKey, 403},
		{"admin publishes a device stream", "/whip/devices/demo", ts.AdminToken, 403},
		{"name outside the namespaces", "/whip/misc/a", ts.AdminToken, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, ts, c.path, send, c.token)
			if resp.StatusCode != c.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, c.status)
			}
			wa := resp.Header.Get("WWW-Authenticate")
			switch c.status {
			case 401:
				if !strings.HasPrefix(wa, "Bearer") {
					t.Fatalf("401 without a Bearer challenge: %q", wa)
				}
			case 403:
				if !strings.Contains(wa, `error="insufficient_scope"`) {
					t.Fatalf("403 without insufficient_scope: %q", wa)
				}
			}
		})
	}
	// Allowed: the key publishes its stream, bob his own user stream; bob
	// views the live stream; nobody anonymous does.
	resp, body := post(t, ts, "/whip/live/obs", send, obsKey)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("key publishes its stream: %d %s", resp.StatusCode, body)
	}
	keySession := resp.Header.Get("Location")
	if resp, body := post(t, ts, "/whip/users/bob", offerOf(t, webrtc.RTPTransceiverDirectionSendonly), bob); resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob publishes users/bob: %d %s", resp.StatusCode, body)
	}
	recv := offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	if resp, body := post(t, ts, "/whep/live/obs", recv, bob); resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob views live/obs: %d %s", resp.StatusCode, body)
	}
	if resp, _ := post(t, ts, "/whep/live/obs", recv, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous views live/obs: %d", resp.StatusCode)
	}

	// Sessions: only their owner (or an admin) may touch them.
	if resp, _ := do(t, http.MethodDelete, ts.URL+keySession, "", anonymous, "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous DELETE: %d", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodDelete, ts.URL+keySession, "", "Authorization", "Bearer "+bob); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another user's DELETE: %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodDelete, ts.URL+keySession, "", "Authorization", "Bearer "+obsKey); resp.StatusCode != http.StatusOK {
		t.Fatalf("owner's DELETE: %d", resp.StatusCode)
	}
}

// Revoking a publish key ends the sessions it made, and disabling a user
// ends theirs, within the revocation check interval.
func TestRevocationEndsSessions(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.RevocationCheck = 100 * time.Millisecond })
	ctx := context.Background()
	key, keyText, err := ts.accounts.CreateToken(ctx, "admin", auth.Scope{Action: auth.ActionPublish, Stream: "live/"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, ts, "/whip/live/k", offerOf(t, webrtc.RTPTransceiverDirectionSendonly), keyText)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish with the key: %d %s", resp.StatusCode, body)
	}
	keySession := ts.sessions.Get(strings.TrimPrefix(resp.Header.Get("Location"), "/sessions/"))
	bob := tokenFor(t, ts, "bob")
	resp, body = post(t, ts, "/whep/live/k", offerOf(t, webrtc.RTPTransceiverDirectionRecvonly), bob)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob views: %d %s", resp.StatusCode, body)
	}
	bobSession := ts.sessions.Get(strings.TrimPrefix(resp.Header.Get("Location"), "/sessions/"))
	if keySession == nil || bobSession == nil {
		t.Fatal("sessions not found")
	}
	time.Sleep(300 * time.Millisecond) // a few checks pass: nothing is ended yet
	if keySession.CloseReason() != "" || bobSession.CloseReason() != "" {
		t.Fatalf("sessions ended early: %q %q", keySession.CloseReason(), bobSession.CloseReason())
	}
	if err := ts.accounts.RevokeToken(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the key's session to end", func() bool { return keySession.CloseReason() == "revoked" })
	off := true
	if _, err := ts.accounts.UpdateUser(ctx, "bob", auth.UserUpdate{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bob's session to end", func() bool { return bobSession.CloseReason() == "revoked" })
}
