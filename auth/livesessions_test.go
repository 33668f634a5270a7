package auth

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"
)

// LiveSessions tells, in one call, which of a node's open pages may stay:
// sessions that exist, have not expired and belong to an enabled user.
// Revoked, expired, a disabled or deleted user's, publish keys and
// unknown ids are left out; many ids at once work.
func TestLiveSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now
		login := func(name string) string {
			t.Helper()
			sess, _, err := s.Login(ctx, name, name+"-password", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			return sess.ID
		}
		for _, u := range []string{"alice", "bob", "carol", "dave"} {
			mustUser(t, s, u, RoleUser)
		}
		alice, alice2, bob, carol, dave := login("alice"), login("alice"), login("bob"), login("carol"), login("dave")
		key, _, err := s.CreateToken(ctx, "alice", Scope{Action: ActionPublish, Stream: "live/x"}, "obs", 0)
		if err != nil {
			t.Fatal(err)
		}
		// Sign-ins made many: a long list is still one question.
		many := []string{alice, alice2, bob, carol, dave, key.ID, "no-such-id"}
		for range 500 {
			many = append(many, login("alice"))
		}
		got, err := s.LiveSessions(ctx, many)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 505 || got[key.ID] || got["no-such-id"] {
			t.Fatalf("%d live of %d asked (want 505: not the key, not the unknown id)", len(got), len(many))
		}

		if err := s.RevokeToken(ctx, alice2); err != nil {
			t.Fatal(err)
		}
		// Disabled behind the store's back (UpdateUser would also end
		// the sessions): the flag alone is enough to leave them out.
		rawExec(t, s, "UPDATE users SET disabled = ? WHERE name = ?", true, "bob")
		if err := s.DeleteUser(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		got, err = s.LiveSessions(ctx, []string{alice, alice2, bob, carol, dave, key.ID})
		if err != nil {
			t.Fatal(err)
		}
		if want := sorted(map[string]bool{alice: true, dave: true}); !slices.Equal(sorted(got), want) {
			t.Fatalf("live %v, want %v (alice's first sign-in and dave's)", sorted(got), want)
		}

		// Past their lifetime sessions are no longer live, even before
		// they are pruned.
		clk.Advance(s.cfg.SessionTTL + time.Minute)
		if got, err := s.LiveSessions(ctx, []string{alice, dave}); err != nil || len(got) != 0 {
			t.Fatalf("expired sessions: %v, %v", got, err)
		}
		if got, err := s.LiveSessions(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("no ids: %v, %v", got, err)
		}
	})
}

// sorted lists the keys of a set in order.
func sorted(m map[string]bool) []string {
	out := slices.Collect(maps.Keys(m))
	slices.Sort(out)
	return out
}
