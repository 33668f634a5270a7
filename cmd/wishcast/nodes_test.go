package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Two wishcast processes on one PostgreSQL: a publish key created on one
// works on the other; revoked on the first, it is refused by the second,
// and the stream it was publishing there ends, well within
// REVOCATION_CHECK: at once, through LISTEN/NOTIFY, although the second
// caches tokens for an hour and re-checks sessions only every 30 s by
// itself. Accounts made on either node sign in on both.
func TestTwoNodesRevocation(t *testing.T) {
	st := postgresStore(t)
	const check, within = 30 * time.Second, 3 * time.Second
	env := []string{"WISHCAST_DATABASE_URL=" + st.url, "WISHCAST_REVOCATION_CHECK=" + check.String(),
		"WISHCAST_TOKEN_CACHE_TTL=1h", "WISHCAST_ICE_LOOPBACK=true", "WISHCAST_ICE_HOST_IPS=127.0.0.1"}
	a, b := "http://"+freeAddr(t), "http://"+freeAddr(t)
	startChild(t, t.TempDir(), strings.TrimPrefix(a, "http://"), env...)
	startChild(t, t.TempDir(), strings.TrimPrefix(b, "http://"), env...)
	nodeA, nodeB := &testServer{URL: a}, &testServer{URL: b}

	adminA := signInAs(t, a, "admin", testAdminPassword)
	adminB := signInAs(t, b, "admin", testAdminPassword)
	resp, body := apiAs(t, nodeA, adminA, "POST", "/api/v1/users", `{"name":"finn","password":"password-finn"}`)
	wantStatus(t, "create finn on A", resp, body, 201)
	signInAs(t, b, "finn", "password-finn")
	resp, body = apiAs(t, nodeB, adminB, "POST", "/api/v1/users", `{"name":"FINN","password":"password-finn"}`)
	wantStatus(t, "finn again, on B", resp, body, 409)

	resp, body = apiAs(t, nodeA, adminA, "POST", "/api/v1/tokens", `{"action":"publish","stream":"live/rev"}`)
	wantStatus(t, "create a key on A", resp, body, 201)
	var key struct {
		Token string `json:"token"`
		ID    string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &key); err != nil {
		t.Fatal(err)
	}
	me := func() int {
		resp, _ := do(t, http.MethodGet, b+"/api/v1/me", "", "Authorization", "Bearer "+key.Token)
		return resp.StatusCode
	}
	if code := me(); code != http.StatusOK { // B has it cached now
		t.Fatalf("the key on B: %d", code)
	}
	startPublisher(t, nodeB, "live/rev", 25, "Authorization", "Bearer "+key.Token)
	live := func() bool {
		_, body := apiAs(t, nodeB, adminB, "GET", "/api/v1/streams", "")
		return strings.Contains(body, `"live/rev"`)
	}
	eventually(t, 10*time.Second, "live/rev to be live on B", live)

	resp, body = apiAs(t, nodeA, adminA, "DELETE", "/api/v1/tokens/"+key.ID, "")
	wantStatus(t, "revoke the key on A", resp, body, 204)
	revoked := time.Now()
	eventually(t, within, "B to refuse the revoked key", func() bool { return me() == http.StatusUnauthorized })
	refused := time.Since(revoked)
	eventually(t, within, "B to end the stream the key published", func() bool { return !live() })
	t.Logf("B refused the key %v after A revoked it, and ended its stream %v after (REVOCATION_CHECK %v, token cache 1h)",
		refused, time.Since(revoked), check)
}
