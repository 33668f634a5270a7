package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wishcast/wishcast/auth"
)

// signInCookie signs user in through the API and returns the app's cookie.
func signInCookie(t *testing.T, ts *testServer, user, password string) *http.Cookie {
	t.Helper()
	resp, body := do(t, http.MethodPost, ts.URL+"/api/v1/login", `{"name":"`+user+`","password":"`+password+`"}`,
		"Content-Type", "application/json", anonymous, "1")
	wantStatus(t, "sign in", resp, body, http.StatusOK)
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// A page of another site cannot change anything with a signed-in
// person's cookie, whatever the body's content type: the request is
// refused (403) before it reaches the route. The app's own pages, an
// allowed origin and requests with an Authorization header go through.
func TestCrossSiteCookieRequests(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.CORS.AllowedOrigins = []string{"https://studio.example"} })
	cookie := signInCookie(t, ts, "admin", testAdminPassword)
	send := func(method, path, body string, hdr ...string) (*http.Response, string) {
		return do(t, method, ts.URL+path, body, append([]string{anonymous, "1", "Cookie", cookie.String()}, hdr...)...)
	}
	for _, c := range []struct {
		name, method, path string
		hdr                []string
	}{
		{"logout from a form", http.MethodPost, "/api/v1/logout", []string{"Origin", "https://evil.example", "Content-Type", "application/x-www-form-urlencoded"}},
		{"accept a call, text/plain", http.MethodPost, "/api/v1/calls/x/accept", []string{"Origin", "https://evil.example", "Content-Type", "text/plain"}},
		{"browser says cross-site", http.MethodDelete, "/api/v1/tokens/x", []string{"Sec-Fetch-Site", "cross-site"}},
		{"WHIP from another site", http.MethodPost, "/whip/live/x", []string{"Origin", "https://evil.example", "Content-Type", "application/sdp"}},
	} {
		resp, body := send(c.method, c.path, "x", c.hdr...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "cross-site") {
			t.Errorf("%s: %d %s; want 403 saying cross-site", c.name, resp.StatusCode, body)
		}
	}
	// Reading is not refused, nor is the app itself, nor an allowed origin.
	if resp, body := send(http.MethodGet, "/api/v1/me", "", "Origin", "https://evil.example"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET from another site: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(http.MethodPost, "/api/v1/calls/x/accept", "", "Origin", "https://studio.example"); resp.StatusCode == http.StatusForbidden {
		t.Errorf("allowed origin refused: %s", body)
	}
	if resp, body := send(http.MethodPost, "/api/v1/calls/x/accept", "", "Origin", ts.URL, "Sec-Fetch-Site", "same-origin"); resp.StatusCode == http.StatusForbidden {
		t.Errorf("the app's own page refused: %s", body)
	}
	// A bearer token is not ambient: its sender chose to send it.
	if resp, body := do(t, http.MethodPost, ts.URL+"/api/v1/calls/x/accept", "", "Authorization", "Bearer "+ts.AdminToken, "Origin", "https://evil.example"); resp.StatusCode == http.StatusForbidden {
		t.Errorf("a bearer request was refused as cross-site: %s", body)
	}
	if resp, body := send(http.MethodPost, "/api/v1/logout", "", "Origin", ts.URL); resp.StatusCode != http.StatusNoContent {
		t.Errorf("logout from the app: %d %s", resp.StatusCode, body)
	}
}

// Two Authorization headers are refused; a wrong publish key hears that
// the key is at fault, not that someone should sign in.
func TestAuthorizationHeaderMistakes(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/me", nil)
	req.Header.Add("Authorization", "Bearer "+ts.AdminToken)
	req.Header.Add("Authorization", "Bearer wck_nothing")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("two Authorization headers: %d, want 400", resp.StatusCode)
	}
	resp2, body := do(t, http.MethodPost, ts.URL+"/whip/live/obs", "v=0", "Authorization", "Bearer wck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Content-Type", "application/sdp")
	if resp2.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "publish key") || strings.Contains(body, "sign in") {
		t.Errorf("a wrong publish key: %d %s; want 401 about the key", resp2.StatusCode, body)
	}
}
