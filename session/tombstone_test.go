package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A session that ended by itself (the client closed its peer connection
// first, as medooze's stop() does) answers its owner's DELETE with 200 for
// a while; others, PATCH, and a second DELETE still get 404.
func TestDeleteAfterSessionEnded(t *testing.T) {
	m := newTestManager(t, Config{})
	m.SetAccess(Access{Check: func(r *http.Request, c Creator) error {
		if r.Header.Get("X-User") != c.Owner {
			return errors.New("not yours")
		}
		return nil
	}})
	srv := httptest.NewServer(m.Handler(func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/sessions/") }))
	t.Cleanup(srv.Close)
	call := func(method, id, user string) int {
		req, _ := http.NewRequest(method, srv.URL+"/sessions/"+id, strings.NewReader("a=end-of-candidates\r\n"))
		req.Header.Set("X-User", user)
		req.Header.Set("If-Match", "*")
		req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	s, err := m.New("whep", "live/x", Creator{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ReasonClosed) // the client closed its peer connection
	for _, c := range []struct {
		method, user string
		want         int
	}{
		{http.MethodPatch, "alice", http.StatusNotFound},
		{http.MethodDelete, "bob", http.StatusNotFound},
		{http.MethodDelete, "alice", http.StatusOK},
		{http.MethodDelete, "alice", http.StatusNotFound},
	} {
		if got := call(c.method, s.ID, c.user); got != c.want {
			t.Errorf("%s by %s after the session ended: %d, want %d", c.method, c.user, got, c.want)
		}
	}
	// A session its owner deleted leaves nothing behind.
	s2, err := m.New("whep", "live/x", Creator{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if got := call(http.MethodDelete, s2.ID, "alice"); got != http.StatusOK {
		t.Fatalf("DELETE: %d", got)
	}
	if got := call(http.MethodDelete, s2.ID, "alice"); got != http.StatusNotFound {
		t.Fatalf("second DELETE: %d, want 404", got)
	}
	if got := call(http.MethodDelete, "never-existed", "alice"); got != http.StatusNotFound {
		t.Fatalf("DELETE of an unknown id: %d", got)
	}
}

// Tombstones are bounded in number and in time.
func TestTombstonesBounded(t *testing.T) {
	m := NewManager(Config{}, nil, nil)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range maxTombs + 500 {
		m.buryLocked(&Session{ID: strconv.Itoa(i)}, now)
	}
	if len(m.tombs) > maxTombs || len(m.tombOrder) > maxTombs {
		t.Fatalf("%d tombstones kept, at most %d wanted", len(m.tombs), maxTombs)
	}
	m.buryLocked(&Session{ID: "late"}, now.Add(2*tombstoneFor))
	if len(m.tombs) != 1 {
		t.Fatalf("%d tombstones after they all expired, want only the new one", len(m.tombs))
	}
}
