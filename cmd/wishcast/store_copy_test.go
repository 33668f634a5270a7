package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An installation on SQLite moves to PostgreSQL with "store copy": a
// server started on the copy has the same accounts (the old passwords
// sign in), keys and cameras. A second copy into the now full database is
// refused unless told to replace it.
func TestStoreCopyToPostgres(t *testing.T) {
	lite := sqliteStore(t)
	ts, stop := startTestServer(t, lite.apply)
	resp, body := apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"gina","password":"password-gina"}`)
	wantStatus(t, "create gina", resp, body, 201)
	gina := tokenOf(t, ts, "gina", "password-gina")
	key, _ := createKey(t, ts, "", `{"action":"publish","stream":"live/moved"}`, 201)
	resp, body = apiAs(t, ts, "", "PUT", "/api/v1/devices/yard", `{"url":"rtsp://10.0.0.9/s"}`)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("put camera: %d %s", resp.StatusCode, body)
	}
	stop()

	pgs := postgresStore(t)
	u, _ := url.Parse(pgs.url)
	u.User = url.UserPassword(u.User.Username(), "pg-secret") // the test server trusts anyone
	pgs.url = u.String()
	from := "sqlite://" + filepath.Join(lite.dir, "wishcast.db")
	code, out, errs := cli(t, pgs, "", "store", "copy", "--from", from)
	if code != 0 || !strings.Contains(out, "copied 2 users, 2 sign-in sessions, 1 publish keys, 1 cameras") {
		t.Fatalf("store copy: %d %s %s", code, out, errs)
	}
	if strings.Contains(out+errs, "pg-secret") || !strings.Contains(out, "xxxxx") {
		t.Errorf("the output shows the database password: %s %s", out, errs)
	}
	if code, _, errs := cli(t, pgs, "", "store", "copy", "--from", from); code != 1 || !strings.Contains(errs, "--replace") {
		t.Fatalf("a second copy into a full store: %d %s", code, errs)
	}
	if code, out, errs := cli(t, pgs, "", "store", "copy", "--from", from, "--replace"); code != 0 || !strings.Contains(out, "copied 2 users") {
		t.Fatalf("copy with --replace: %d %s %s", code, out, errs)
	}

	moved := newTestServer(t, pgs.apply) // signs the admin in with the old password
	tokenOf(t, moved, "gina", "password-gina")
	if resp, body := do(t, http.MethodGet, moved.URL+"/api/v1/me", "", "Authorization", "Bearer "+gina); resp.StatusCode != http.StatusOK {
		t.Fatalf("gina's sign-in from before the move: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, http.MethodGet, moved.URL+"/api/v1/me", "", "Authorization", "Bearer "+key); resp.StatusCode != http.StatusOK {
		t.Fatalf("the key from before the move: %d %s", resp.StatusCode, body)
	}
	if _, body := apiAs(t, moved, "", "GET", "/api/v1/devices", ""); !strings.Contains(body, `"name":"yard"`) {
		t.Fatalf("cameras after the move: %s", body)
	}
	startPublisher(t, moved, "live/moved", 25, "Authorization", "Bearer "+key)
	v := startViewer(t, moved, "live/moved", "Authorization", "Bearer "+gina)
	next(t, v.video, 10*time.Second)
}

// store copy checks its arguments before touching anything.
func TestStoreCopyUsage(t *testing.T) {
	st := sqliteStore(t)
	for _, args := range [][]string{
		{"store"},
		{"store", "move"},
		{"store", "copy"}, // no target: no --to and no DATABASE_URL
		{"store", "copy", "--to", "mysql://u:hunter2@h/db"},
		{"store", "copy", "--to", "postgres://h/db", "extra"},
	} {
		code, _, errs := cli(t, st, "", args...)
		if code != 2 || strings.Contains(errs, "hunter2") {
			t.Errorf("%v: %d %s", args, code, errs)
		}
	}
}
