package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wishcast/wishcast/auth"
)

// apiAs sends a JSON request to the accounts API as token: "" for the test
// admin, anonymous for nobody, else a bearer token.
func apiAs(t *testing.T, ts *testServer, token, method, path, body string) (*http.Response, string) {
	t.Helper()
	var hdr []string
	switch token {
	case "":
	case anonymous:
		hdr = append(hdr, anonymous, "1")
	default:
		hdr = append(hdr, "Authorization", "Bearer "+token)
	}
	if body != "" {
		hdr = append(hdr, "Content-Type", "application/json")
	}
	return do(t, method, ts.URL+path, body, hdr...)
}

// wantStatus fails unless resp has status.
func wantStatus(t *testing.T, what string, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: %d, want %d: %s", what, resp.StatusCode, status, body)
	}
}

// Creating, listing, changing, disabling and deleting users, with who may
// do what.
func TestAPIUsers(t *testing.T) {
	ts := newTestServer(t)
	resp, body := apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"dave","display_name":"Dave","password":"password-dave","role":"user"}`)
	wantStatus(t, "create dave", resp, body, 201)
	if loc := resp.Header.Get("Location"); loc != "/api/v1/users/dave" {
		t.Fatalf("Location %q", loc)
	}
	if !strings.Contains(body, `"display_name":"Dave"`) || strings.Contains(body, `"password"`) || strings.Contains(body, "password_hash") || strings.Contains(body, "argon") {
		t.Fatalf("created user body %s", body)
	}
	resp, body = login(t, ts, "dave", "password-dave")
	wantStatus(t, "dave signs in", resp, body, 200)

	resp, body = apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"DAVE","password":"password-dave"}`)
	wantStatus(t, "duplicate", resp, body, 409)
	resp, body = apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"bad name","password":"password-x"}`)
	wantStatus(t, "invalid name", resp, body, 400)
	resp, body = apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"eve","password":"short"}`)
	wantStatus(t, "short password", resp, body, 400)
	if !strings.Contains(body, "password") {
		t.Fatalf("400 without the store's reason: %s", body)
	}

	bob := tokenFor(t, ts, "bob")
	resp, body = apiAs(t, ts, bob, "POST", "/api/v1/users", `{"name":"mallory","password":"password-m"}`)
	wantStatus(t, "user creates a user", resp, body, 403)
	resp, body = apiAs(t, ts, anonymous, "GET", "/api/v1/users", "")
	wantStatus(t, "anonymous list", resp, body, 401)
	resp, body = apiAs(t, ts, bob, "GET", "/api/v1/users", "")
	wantStatus(t, "user lists", resp, body, 200)
	var list struct {
		Users []struct {
			Name     string `json:"name"`
			Role     string `json:"role"`
			Disabled bool   `json:"disabled"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Users) != 3 || strings.Contains(body, "hash") {
		t.Fatalf("list %s (%v)", body, err)
	}

	resp, body = apiAs(t, ts, bob, "PATCH", "/api/v1/users/bob", `{"display_name":"Bobby"}`)
	wantStatus(t, "own display name", resp, body, 200)
	if !strings.Contains(body, `"display_name":"Bobby"`) {
		t.Fatalf("patched body %s", body)
	}
	resp, body = apiAs(t, ts, bob, "PATCH", "/api/v1/users/bob", `{"role":"admin"}`)
	wantStatus(t, "own role", resp, body, 403)
	resp, body = apiAs(t, ts, bob, "PATCH", "/api/v1/users/dave", `{"display_name":"x"}`)
	wantStatus(t, "someone else's display name", resp, body, 403)
	resp, body = apiAs(t, ts, "", "PATCH", "/api/v1/users/nobody", `{"display_name":"x"}`)
	wantStatus(t, "patch unknown", resp, body, 404)
	resp, body = apiAs(t, ts, "", "PATCH", "/api/v1/users/admin", `{"role":"user"}`)
	wantStatus(t, "demote the last admin", resp, body, 409)

	resp, body = apiAs(t, ts, "", "PATCH", "/api/v1/users/dave", `{"disabled":true}`)
	wantStatus(t, "disable dave", resp, body, 200)
	if !strings.Contains(body, `"disabled":true`) {
		t.Fatalf("disabled body %s", body)
	}
	resp, body = login(t, ts, "dave", "password-dave")
	wantStatus(t, "disabled dave signs in", resp, body, 401)

	resp, body = apiAs(t, ts, bob, "DELETE", "/api/v1/users/dave", "")
	wantStatus(t, "user deletes", resp, body, 403)
	resp, body = apiAs(t, ts, "", "DELETE", "/api/v1/users/admin", "")
	wantStatus(t, "delete the last admin", resp, body, 409)
	resp, body = apiAs(t, ts, "", "DELETE", "/api/v1/users/nobody", "")
	wantStatus(t, "delete unknown", resp, body, 404)
	resp, body = apiAs(t, ts, "", "DELETE", "/api/v1/users/bob", "")
	wantStatus(t, "delete bob", resp, body, 204)
	resp, body = apiAs(t, ts, bob, "GET", "/api/v1/me", "")
	wantStatus(t, "deleted bob's token", resp, body, 401)
}

// A password change ends the user's sessions; users need their current
// password, admins do not.
func TestAPIPassword(t *testing.T) {
	ts := newTestServer(t)
	bob := tokenFor(t, ts, "bob")
	carol := tokenFor(t, ts, "carol")
	resp, body := apiAs(t, ts, bob, "POST", "/api/v1/users/bob/password", `{"password":"new-password-bob"}`)
	wantStatus(t, "without current_password", resp, body, 400)
	resp, body = apiAs(t, ts, bob, "POST", "/api/v1/users/bob/password", `{"password":"new-password-bob","current_password":"wrong-password"}`)
	wantStatus(t, "wrong current_password", resp, body, 403)
	resp, body = apiAs(t, ts, bob, "POST", "/api/v1/users/carol/password", `{"password":"new-password-bob","current_password":"password-bob"}`)
	wantStatus(t, "someone else's password", resp, body, 403)
	resp, body = apiAs(t, ts, bob, "POST", "/api/v1/users/bob/password", `{"password":"new-password-bob","current_password":"password-bob"}`)
	wantStatus(t, "own password", resp, body, 204)
	resp, body = apiAs(t, ts, bob, "GET", "/api/v1/me", "")
	wantStatus(t, "bob's old session", resp, body, 401)
	resp, body = login(t, ts, "bob", "new-password-bob")
	wantStatus(t, "bob with the new password", resp, body, 200)
	if ss, err := ts.accounts.ListSessions(context.Background(), "bob"); err != nil || len(ss) != 1 {
		t.Fatalf("bob's sessions after the change and one sign-in: %d (%v)", len(ss), err)
	}

	resp, body = apiAs(t, ts, "", "POST", "/api/v1/users/carol/password", `{"password":"reset-password"}`)
	wantStatus(t, "admin resets carol", resp, body, 204)
	resp, body = apiAs(t, ts, carol, "GET", "/api/v1/me", "")
	wantStatus(t, "carol's old session", resp, body, 401)
	resp, body = apiAs(t, ts, "", "POST", "/api/v1/users/nobody/password", `{"password":"reset-password"}`)
	wantStatus(t, "unknown user", resp, body, 404)
}

// createKey posts a key request as token and returns the key and its id.
func createKey(t *testing.T, ts *testServer, token, req string, status int) (key, id string) {
	t.Helper()
	resp, body := apiAs(t, ts, token, "POST", "/api/v1/tokens", req)
	wantStatus(t, "create key "+req, resp, body, status)
	if status != 201 {
		return "", ""
	}
	var out struct {
		Token string `json:"token"`
		ID    string `json:"id"`
		Kind  string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || !strings.HasPrefix(out.Token, "wck_") || out.ID == "" || out.Kind != "key" {
		t.Fatalf("created key %s (%v)", body, err)
	}
	return out.Token, out.ID
}

// Publish keys: who may create which, listing without secrets, revoking,
// and keys kept out of the API.
func TestAPITokens(t *testing.T) {
	ts := newTestServer(t)
	bob := tokenFor(t, ts, "bob")
	carol := tokenFor(t, ts, "carol")
	bobKey, bobKeyID := createKey(t, ts, bob, `{"action":"publish","stream":"users/bob","label":"OBS","ttl_seconds":3600}`, 201)
	resp, body := apiAs(t, ts, bobKey, "GET", "/api/v1/me", "")
	wantStatus(t, "bob's key on /me", resp, body, 200)
	if !strings.Contains(body, `"kind":"key"`) {
		t.Fatalf("me with a key: %s", body)
	}
	createKey(t, ts, bob, `{"action":"publish","stream":"live/"}`, 403)
	createKey(t, ts, bob, `{"action":"publish","stream":"users/carol"}`, 403)
	createKey(t, ts, bob, `{"action":"publish","stream":"users/bob","owner":"admin"}`, 403)
	createKey(t, ts, bob, `{"action":"fly","stream":"users/bob"}`, 400)
	createKey(t, ts, "", `{"action":"publish","stream":"users/bob","ttl_seconds":-1}`, 400)
	createKey(t, ts, "", `{"action":"publish","stream":"users/bob","owner":"nobody"}`, 400)
	createKey(t, ts, anonymous, `{"action":"publish","stream":"live/"}`, 401)
	_, liveID := createKey(t, ts, "", `{"action":"publish","stream":"live/","label":"studio"}`, 201)
	createKey(t, ts, "", `{"action":"view","stream":"users/bob","owner":"bob"}`, 201)

	// Keys are for media only.
	createKey(t, ts, bobKey, `{"action":"publish","stream":"users/bob"}`, 403)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/users", ""},
		{"GET", "/api/v1/tokens", ""},
		{"PATCH", "/api/v1/users/bob", `{"display_name":"k"}`},
		{"DELETE", "/api/v1/tokens/" + bobKeyID, ""},
	} {
		resp, body := apiAs(t, ts, bobKey, c.method, c.path, c.body)
		wantStatus(t, "key "+c.method+" "+c.path, resp, body, 403)
	}

	resp, body = apiAs(t, ts, "", "GET", "/api/v1/tokens", "")
	wantStatus(t, "admin lists", resp, body, 200)
	if strings.Contains(body, "wck_") || strings.Contains(body, "wcs_") {
		t.Fatalf("listing shows secrets: %s", body)
	}
	var list struct {
		Tokens []struct {
			ID    string `json:"id"`
			Kind  string `json:"kind"`
			Owner string `json:"owner"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, tk := range list.Tokens {
		kinds[tk.Kind]++
	}
	if kinds["key"] != 3 || kinds["session"] != 3 { // admin, bob, carol
		t.Fatalf("admin's list: %v in %s", kinds, body)
	}
	resp, body = apiAs(t, ts, bob, "GET", "/api/v1/tokens", "")
	wantStatus(t, "bob lists", resp, body, 200)
	list.Tokens = nil
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Tokens) != 3 {
		t.Fatalf("bob's list %s (%v)", body, err)
	}
	for _, tk := range list.Tokens {
		if tk.Owner != "bob" {
			t.Fatalf("bob sees %s's token: %s", tk.Owner, body)
		}
	}
	if strings.Contains(body, "wck_") || strings.Contains(body, "wcs_") {
		t.Fatalf("listing shows secrets: %s", body)
	}

	resp, body = apiAs(t, ts, carol, "DELETE", "/api/v1/tokens/"+bobKeyID, "")
	wantStatus(t, "carol revokes bob's key", resp, body, 404)
	resp, body = apiAs(t, ts, bob, "DELETE", "/api/v1/tokens/"+liveID, "")
	wantStatus(t, "bob revokes the admin's key", resp, body, 404)
	resp, body = apiAs(t, ts, bob, "DELETE", "/api/v1/tokens/"+bobKeyID, "")
	wantStatus(t, "bob revokes his key", resp, body, 204)
	resp, body = apiAs(t, ts, bobKey, "GET", "/api/v1/me", "")
	wantStatus(t, "revoked key", resp, body, 401)
	resp, body = apiAs(t, ts, "", "DELETE", "/api/v1/tokens/"+liveID, "")
	wantStatus(t, "admin revokes", resp, body, 204)
	resp, body = apiAs(t, ts, "", "DELETE", "/api/v1/tokens/"+liveID, "")
	wantStatus(t, "revoke twice", resp, body, 404)
}

// Bodies: JSON only, bounded, no unknown fields, one object.
func TestAPIBodies(t *testing.T) {
	ts := newTestServer(t)
	big := `{"name":"x","password":"` + strings.Repeat("a", 20<<10) + `"}`
	for _, c := range []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"form body", "POST", "/api/v1/users", "application/x-www-form-urlencoded", "name=x", 415},
		{"no content type", "POST", "/api/v1/tokens", "", `{}`, 415},
		{"text patch", "PATCH", "/api/v1/users/admin", "text/plain", `{}`, 415},
		{"20 KiB", "POST", "/api/v1/users", "application/json", big, 413},
		{"20 KiB key", "POST", "/api/v1/tokens", "application/json", big, 413},
		{"unknown field", "POST", "/api/v1/users", "application/json", `{"name":"x","password":"password-x","admin":true}`, 400},
		{"unknown field in patch", "PATCH", "/api/v1/users/admin", "application/json", `{"password":"x"}`, 400},
		{"malformed", "POST", "/api/v1/tokens", "application/json; charset=utf-8", `{"action":`, 400},
		{"two objects", "POST", "/api/v1/users", "application/json", `{"name":"x","password":"password-x"}{}`, 400},
		{"wrong type", "PATCH", "/api/v1/users/admin", "application/json", `{"disabled":"yes"}`, 400},
	} {
		var hdr []string
		if c.ctype != "" {
			hdr = []string{"Content-Type", c.ctype}
		}
		resp, body := do(t, c.method, ts.URL+c.path, c.body, hdr...)
		wantStatus(t, c.name, resp, body, c.status)
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s: Content-Type %q", c.name, ct)
		}
	}
}

// newFuzzServer is a test server for a whole fuzz run: the router with the
// real store, served in memory, and a user's session token.
func newFuzzServer(tb testing.TB) (h http.Handler, userToken string) {
	tb.Helper()
	cfg, err := loadConfig(testEnv(tb, nil))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := newServer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.close)
	ctx := context.Background()
	_, admin, err := s.accounts.Login(ctx, "admin", testAdminPassword, "test")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.accounts.CreateUser(ctx, auth.NewUser{Name: "fuzzer", Password: "password-fuzzer"}); err != nil {
		tb.Fatal(err)
	}
	_, user, err := s.accounts.Login(ctx, "fuzzer", "password-fuzzer", "test")
	if err != nil {
		tb.Fatal(err)
	}
	return asAdmin(s.handler, admin), user
}

// FuzzUsersAPI sends arbitrary bodies to the JSON routes that take one
// (creating users and keys, changing oneself, placing a call), as the
// admin and as a user: the answer is a success or a client error, never a
// 5xx.
func FuzzUsersAPI(f *testing.F) {
	for _, s := range []string{
		`{"name":"alice","password":"password-alice"}`,
		`{"name":"root","password":"password-root","role":"admin","display_name":"Root"}`,
		`{"name":"x","password":"password-x","role":"god"}`,
		`{"action":"publish","stream":"live/obs","label":"OBS","ttl_seconds":60}`,
		`{"action":"publish","stream":"users/fuzzer"}`,
		`{"action":"view","stream":"users/fuzzer","owner":"FUZZER"}`,
		`{"action":"publish","stream":"devices/cam"}`,
		`{"ttl_seconds":1e300}`,
		`{"ttl_seconds":9223372036854775807,"action":"view","stream":"live/"}`,
		`{"name":"\u0000","password":"\u2028\u2028\u2028\u2028\u2028\u2028\u2028\u2028"}`,
		`{"display_name":"F","allow_watch":false,"auto_answer":true}`,
		`{"callee":"admin"}`, `{"callee":"fuzzer"}`, `{"callee":"../x"}`,
		`null`, `[]`, `{}`, `{"name":null}`, ``, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	h, user := newFuzzServer(f)
	ok := map[int]bool{200: true, 201: true, 400: true, 403: true, 404: true, 409: true, 413: true, 415: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range []struct{ method, path, token string }{
			{http.MethodPost, "/api/v1/users", ""},
			{http.MethodPost, "/api/v1/tokens", ""},
			{http.MethodPost, "/api/v1/users", user},
			{http.MethodPost, "/api/v1/tokens", user},
			{http.MethodPatch, "/api/v1/users/fuzzer", user},
			{http.MethodPost, "/api/v1/calls", user},
			{http.MethodPut, "/api/v1/streams/live/fuzz", ""},
		} {
			req := httptest.NewRequest(c.method, c.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !ok[rec.Code] {
				t.Fatalf("%s %s as %q %q: %d %s", c.method, c.path, c.token, body, rec.Code, rec.Body)
			}
		}
	})
}
