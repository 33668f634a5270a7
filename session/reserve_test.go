package session

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/wishcast/wishcast/httpx"
)

// statusOf is the HTTP status an error answers with (0 for nil).
func statusOf(err error) int {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

// One principal (a user, a key, an anonymous address) cannot take more
// than its own share: past it, 429 naming the setting, while another
// principal still gets a session; the server-wide caps answer 503.
func TestPerPrincipalCaps(t *testing.T) {
	m := newTestManager(t, Config{MaxPending: 8, MaxSessions: 100})
	alice := Creator{Owner: "alice"}
	var held []*Session
	for range 2 { // a quarter of MaxPending
		s, err := m.New("whep", "live/x", alice)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	_, err := m.New("whep", "live/x", alice)
	if statusOf(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "MAX_PENDING_PER_PRINCIPAL") {
		t.Fatalf("alice's third pending session: %v; want 429 naming MAX_PENDING_PER_PRINCIPAL", err)
	}
	var he *httpx.Error
	if errors.As(err, &he); he.RetryAfter <= 0 {
		t.Fatal("a 429 without Retry-After")
	}
	// A key of alice's, and anonymous clients, are principals of their own.
	for _, c := range []Creator{{Owner: "alice:k1"}, {Client: "a:192.0.2.1"}, {Client: "a:2001:db8::/64"}, {Owner: "bob"}} {
		s, err := m.New("whep", "live/x", c)
		if err != nil {
			t.Fatalf("%+v while alice is at her cap: %v", c, err)
		}
		held = append(held, s)
	}
	// Ending one of alice's frees her slot.
	held[0].Close(ReasonDeleted)
	s, err := m.New("whep", "live/x", alice)
	if err != nil {
		t.Fatalf("alice after one of hers ended: %v", err)
	}
	held = append(held, s)
	// 6 pending now: two more fit, the ninth meets the server-wide cap.
	for _, o := range []string{"carol", "dave"} {
		if _, err := m.New("whep", "live/x", Creator{Owner: o}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.New("whep", "live/x", Creator{Owner: "eve"}); statusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("past MAX_PENDING: %v, want 503", err)
	}
	m.CloseAll()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pendingBy) != 0 || len(m.totalBy) != 0 || m.pending != 0 || m.reserved != 0 {
		t.Fatalf("after CloseAll: pending %d reserved %d, by principal %v %v", m.pending, m.reserved, m.pendingBy, m.totalBy)
	}
}

// A reservation holds its slot until used or released; a released one
// cannot be used, and releasing twice gives back one slot.
func TestReservation(t *testing.T) {
	m := newTestManager(t, Config{MaxPending: 4, MaxSessions: 4})
	c := Creator{Owner: "alice"}
	r, err := m.Reserve("whip", c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reserve("whip", c); statusOf(err) != http.StatusTooManyRequests {
		t.Fatalf("second reservation past a cap of one: %v", err)
	}
	r.Release()
	r.Release()
	if _, err := r.New("live/x"); err == nil {
		t.Fatal("a released reservation made a session")
	}
	r2, err := m.Reserve("whip", c)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	s, err := r2.New("live/x")
	if err != nil {
		t.Fatal(err)
	}
	r2.Release() // used: nothing to give back
	if st := m.Stats(); st.Active != 1 || st.Pending != 1 {
		t.Fatalf("stats %+v, want 1 active and pending", st)
	}
	s.Close(ReasonDeleted)
	if st := m.Stats(); st.Active != 0 || st.Pending != 0 {
		t.Fatalf("stats %+v after close", st)
	}
}
