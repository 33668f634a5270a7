package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The server end to end on each store: sign in, create users and keys,
// publish and view, set a camera and a public stream; then restart on the
// same store and find everything there, the old sign-in and key working.
func TestRestartKeepsEverything(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		ts, stop := startTestServer(t, st.apply)
		resp, body := do(t, http.MethodGet, ts.URL+"/readyz", "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"database":"`+st.kind+`"`) {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
		resp, body = apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"erin","password":"password-erin"}`)
		wantStatus(t, "create erin", resp, body, 201)
		resp, body = apiAs(t, ts, "", "POST", "/api/v1/users", `{"name":"ERIN","password":"password-erin"}`)
		wantStatus(t, "a taken name in other case", resp, body, 409)
		erin := tokenOf(t, ts, "erin", "password-erin")
		key, _ := createKey(t, ts, "", `{"action":"publish","stream":"live/pg","label":"encoder"}`, 201)
		resp, body = apiAs(t, ts, "", "PUT", "/api/v1/devices/gate", `{"url":"rtsp://u:p@10.0.0.7/s","transport":"tcp"}`)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("put camera: %d %s", resp.StatusCode, body)
		}
		resp, body = apiAs(t, ts, "", "PUT", "/api/v1/streams/live/pg", `{"public":true}`)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("make live/pg public: %d %s", resp.StatusCode, body)
		}

		pub := startPublisher(t, ts, "live/pg", 25, "Authorization", "Bearer "+key)
		v := startViewer(t, ts, "live/pg", "Authorization", "Bearer "+erin)
		next(t, v.video, 10*time.Second)
		pub.Stop()
		stop()

		ts2, _ := startTestServer(t, st.apply)
		resp, body = do(t, http.MethodGet, ts2.URL+"/api/v1/me", "", "Authorization", "Bearer "+erin)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"erin"`) {
			t.Fatalf("erin's sign-in after the restart: %d %s", resp.StatusCode, body)
		}
		resp, body = do(t, http.MethodGet, ts2.URL+"/api/v1/me", "", "Authorization", "Bearer "+key)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "live/pg") {
			t.Fatalf("the key after the restart: %d %s", resp.StatusCode, body)
		}
		tokenOf(t, ts2, "erin", "password-erin")
		if _, body := apiAs(t, ts2, "", "GET", "/api/v1/devices", ""); !strings.Contains(body, `"name":"gate"`) || strings.Contains(body, ":p@") {
			t.Fatalf("cameras after the restart: %s", body)
		}
		startPublisher(t, ts2, "live/pg", 25, "Authorization", "Bearer "+key)
		anon := startViewer(t, ts2, "live/pg", anonymous, "1") // still public
		next(t, anon.video, 10*time.Second)
	})
}

// tokenOf signs a user in over the API and returns the session token.
func tokenOf(t *testing.T, ts *testServer, name, password string) string {
	t.Helper()
	resp, body := login(t, ts, name, password)
	wantStatus(t, "sign in as "+name, resp, body, 200)
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Token == "" {
		t.Fatalf("sign-in answer %s (%v)", body, err)
	}
	return out.Token
}

// /readyz asks the database the server uses: when PostgreSQL stops taking
// connections, the server is not ready, and it is again when it does.
func TestReadyzFollowsPostgres(t *testing.T) {
	st := postgresStore(t)
	ts := newTestServer(t, st.apply)
	ready := func() (int, string) {
		resp, body := do(t, http.MethodGet, ts.URL+"/readyz", "", anonymous, "1")
		return resp.StatusCode, body
	}
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("readyz: %d %s", code, body)
	}
	u, err := url.Parse(st.url)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	admin, err := pgx.Connect(t.Context(), pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(t.Context())
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'")
	eventually(t, 10*time.Second, "readyz to fail", func() bool {
		code, body := ready()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "account store unavailable")
	})
	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true")
	eventually(t, 10*time.Second, "readyz to recover", func() bool { code, _ := ready(); return code == http.StatusOK })
}
