package main

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

// cli runs the wishcast command line against a store.
func cli(t *testing.T, st testStore, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"WISHCAST_PASSWORD_TIME": "1", "WISHCAST_PASSWORD_MEMORY_KIB": "8192", "WISHCAST_ADMIN_PASSWORD": testAdminPassword}
	maps.Copy(env, st.env())
	code := run(args, env, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// Accounts and keys made with the CLI work against the server using the
// same store (the data directory, or DATABASE_URL), while it runs.
func TestCLIUsersAndTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		ts := newTestServer(t, st.apply)
		if code, out, errs := cli(t, st, "s3cret-pass\n", "user", "add", "-display", "Bob B", "bob"); code != 0 || !strings.Contains(out, "user bob created") {
			t.Fatalf("user add: %d %s %s", code, out, errs)
		}
		if code, out, _ := cli(t, st, "", "user", "add", "carol"); code != 0 || !strings.Contains(out, "password: ") {
			t.Fatalf("user add with a generated password: %d %s", code, out)
		}
		if code, out, _ := cli(t, st, "", "user", "list"); code != 0 || !strings.Contains(out, "bob") || !strings.Contains(out, "admin") {
			t.Fatalf("user list: %d %s", code, out)
		}
		if resp, body := login(t, ts, "bob", "s3cret-pass"); resp.StatusCode != http.StatusOK {
			t.Fatalf("bob signs in: %d %s", resp.StatusCode, body)
		}
		if code, _, _ := cli(t, st, "", "user", "disable", "bob"); code != 0 {
			t.Fatal("disable")
		}
		if resp, _ := login(t, ts, "bob", "s3cret-pass"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("disabled bob signs in: %d", resp.StatusCode)
		}
		code, out, errs := cli(t, st, "", "token", "create", "-owner", "admin", "-publish", "live/obs", "-label", "OBS")
		if code != 0 {
			t.Fatalf("token create: %d %s", code, errs)
		}
		key := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
		if !strings.HasPrefix(key, "wck_") {
			t.Fatalf("token create printed %q", out)
		}
		resp, body := do(t, http.MethodGet, ts.URL+"/api/v1/me", "", "Authorization", "Bearer "+key)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "live/obs") {
			t.Fatalf("me with the key: %d %s", resp.StatusCode, body)
		}
		id := strings.Fields(out)[1]
		if code, out, _ := cli(t, st, "", "token", "list"); code != 0 || !strings.Contains(out, id) {
			t.Fatalf("token list: %s", out)
		}
		if code, _, errs := cli(t, st, "", "token", "revoke", id); code != 0 {
			t.Fatalf("revoke: %s", errs)
		}
		// The server caches checked tokens briefly. On PostgreSQL the
		// command tells the servers (LISTEN/NOTIFY), which refuse the key
		// at once; on SQLite a revocation by another process applies
		// within TOKEN_CACHE_TTL (10 s here), so check through a fresh
		// server on the same store.
		if st.kind == "postgres" {
			eventually(t, time.Second, "the running server to refuse the key the CLI revoked", func() bool {
				resp, _ := do(t, http.MethodGet, ts.URL+"/api/v1/me", "", "Authorization", "Bearer "+key)
				return resp.StatusCode == http.StatusUnauthorized
			})
		}
		ts2 := newTestServer(t, st.apply)
		if resp, _ := do(t, http.MethodGet, ts2.URL+"/api/v1/me", "", "Authorization", "Bearer "+key); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("revoked key: %d", resp.StatusCode)
		}
		if code, _, _ := cli(t, st, "", "user", "frobnicate"); code != 2 {
			t.Fatal("unknown subcommand accepted")
		}
	})
}

// Cameras added with the CLI while the server runs show in its API at
// once, without their password; removal too.
func TestCLIDevices(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		ts := newTestServer(t, st.apply)
		if code, out, errs := cli(t, st, "", "device", "add", "gate", "rtsp://u:hunter2@10.0.0.7/s", "udp"); code != 0 || !strings.Contains(out, "device gate saved") {
			t.Fatalf("device add: %d %s %s", code, out, errs)
		}
		if code, out, _ := cli(t, st, "", "device", "list"); code != 0 || !strings.Contains(out, "gate") || strings.Contains(out, "hunter2") ||
			!strings.Contains(out, "demo ") || !strings.Contains(out, "built in") {
			t.Fatalf("device list (with the demo camera): %d %s", code, out)
		}
		// The README's spelling and the settings' spelling of the options.
		for i, opt := range []string{"tcp", "#tcp"} {
			if code, out, errs := cli(t, st, "", "device", "add", fmt.Sprintf("door%d", i), "rtsp://10.0.0.8/s", opt); code != 0 || !strings.Contains(out, "saved") {
				t.Fatalf("device add with %s: %d %s %s", opt, code, out, errs)
			}
		}
		if _, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", ""); !strings.Contains(body, `"name":"gate"`) || !strings.Contains(body, `"transport":"udp"`) {
			t.Fatalf("server does not see the CLI's camera: %s", body)
		}
		if code, _, errs := cli(t, st, "", "device", "add", "bad", "http://10.0.0.7/"); code != 2 || !strings.Contains(errs, "rtsp") {
			t.Fatalf("http camera: %d %s", code, errs)
		}
		if code, _, errs := cli(t, st, "", "device", "remove", "gate"); code != 0 {
			t.Fatalf("device remove: %s", errs)
		}
		if _, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", ""); strings.Contains(body, `"name":"gate"`) {
			t.Fatalf("removed camera still listed: %s", body)
		}
		if code, _, errs := cli(t, st, "", "device", "remove", "gate"); code != 1 || !strings.Contains(errs, "unknown device") {
			t.Fatalf("second remove: %d %s", code, errs)
		}
	})
}
