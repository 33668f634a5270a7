package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func login(t *testing.T, ts *testServer, name, password string) (*http.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "password": password})
	return do(t, http.MethodPost, ts.URL+"/api/v1/login", string(body), "Content-Type", "application/json")
}

// Sign in, see yourself, sign out: the token stops working at once.
func TestLoginMeLogout(t *testing.T) {
	ts := newTestServer(t)
	resp, body := login(t, ts, "admin", testAdminPassword)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Token string `json:"token"`
		User  struct {
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Token) < 40 || out.User.Role != "admin" {
		t.Fatalf("login body %s (%v)", body, err)
	}
	c := resp.Header.Get("Set-Cookie")
	if !strings.Contains(c, "wishcast_session=") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
		t.Fatalf("cookie %q", c)
	}
	resp, body = do(t, http.MethodGet, ts.URL+"/api/v1/me", "", "Authorization", "Bearer "+out.Token)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"admin"`) {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, http.MethodPost, ts.URL+"/api/v1/logout", "", "Authorization", "Bearer "+out.Token)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodGet, ts.URL+"/api/v1/me", "", "Authorization", "Bearer "+out.Token)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("me after logout: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// Without a token /me is 401 with a Bearer challenge; a token in the
// query string is refused even on public routes; a bad token is refused
// on WHIP too (C21).
func TestTokenRules(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := do(t, http.MethodGet, ts.URL+"/api/v1/me", "", anonymous, "1")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("anonymous me: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	for _, u := range []string{"/healthz?access_token=x", "/whip/live/a?token=y"} {
		if resp, _ := do(t, http.MethodGet, ts.URL+u, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d, want 401", u, resp.StatusCode)
		}
	}
	resp, _ = do(t, http.MethodPost, ts.URL+"/whip/live/a", "v=0\r\n", "Content-Type", "application/sdp", "Authorization", "Bearer wcs_forged")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("forged token on WHIP: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// A preflight never needs a token, even with a bad one around.
	resp, _ = do(t, http.MethodOptions, ts.URL+"/whip/live/a?token=z", "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode/100 != 2 {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
}

// Wrong passwords are 401, then 429 with Retry-After once the limit is hit.
func TestLoginRateLimited(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Auth.LoginMaxFailures = 3; c.Auth.LoginWindow = time.Minute })
	for i := range 3 {
		if resp, body := login(t, ts, "admin", "wrong password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, _ := login(t, ts, "admin", testAdminPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after the limit: %d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := do(t, http.MethodPost, ts.URL+"/api/v1/login", "name=admin", "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d", resp.StatusCode)
	}
}

// A sign-in cookie that no longer works (signed out elsewhere, password
// changed) is dropped, not held against the request: the app's files
// load, signing in works at once, and what needs a sign-in still says
// 401.
func TestStaleCookie(t *testing.T) {
	ts := newTestServer(t)
	resp, body := login(t, ts, "admin", testAdminPassword)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(body), &out)
	if resp, _ := do(t, http.MethodPost, ts.URL+"/api/v1/logout", "", "Authorization", "Bearer "+out.Token); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	stale := []string{anonymous, "1", "Cookie", "wishcast_session=" + out.Token}
	resp, _ = do(t, http.MethodGet, ts.URL+"/app/icon.svg", "", stale...)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("the app's icon with a stale cookie: %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	creds, _ := json.Marshal(map[string]string{"name": "admin", "password": testAdminPassword})
	resp, body = do(t, http.MethodPost, ts.URL+"/api/v1/login", string(creds), append(stale, "Content-Type", "application/json")...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signing in with a stale cookie: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodGet, ts.URL+"/api/v1/me", "", stale...); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me with a stale cookie: %d", resp.StatusCode)
	}
}
