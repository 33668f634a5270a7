package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now
		mustUser(t, s, "alice", RoleUser)

		sess, tok, err := s.Login(ctx, "Alice", "alice-password", "192.0.2.1:5555")
		if err != nil {
			t.Fatal(err)
		}
		if sess.User != "alice" || sess.ID == "" || !sess.Expires.Equal(clk.Now().Add(720*time.Hour)) {
			t.Errorf("session %+v", sess)
		}
		if !strings.HasPrefix(tok, SessionPrefix) || len(tok) != tokenLen {
			t.Errorf("token %q: want %s and %d characters", tok, SessionPrefix, tokenLen)
		}
		p, err := s.Authenticate(ctx, tok)
		if err != nil || p.User != "alice" || p.Role != RoleUser || p.Kind != PrincipalSession || p.Scope != nil || p.TokenID != sess.ID {
			t.Errorf("Authenticate = %+v, %v", p, err)
		}
		if u, _ := s.GetUser(ctx, "alice"); !u.LastSeen.Equal(clk.Now()) {
			t.Errorf("sign-in did not set LastSeen: %v", u.LastSeen)
		}
		if ss, err := s.ListSessions(ctx, "alice"); err != nil || len(ss) != 1 || ss[0] != sess {
			t.Errorf("ListSessions = %+v, %v", ss, err)
		}

		for _, c := range []struct{ name, pw string }{
			{"alice", "wrong-password"},
			{"alice", ""},
			{"nobody", "alice-password"},
			{"../etc", "alice-password"},
			{"", ""},
		} {
			if _, tok, err := s.Login(ctx, c.name, c.pw, fmt.Sprintf("198.51.100.%d", len(c.name))); !errors.Is(err, ErrBadCredentials) || tok != "" {
				t.Errorf("Login(%q, %q) = %q, %v; want ErrBadCredentials", c.name, c.pw, tok, err)
			}
		}

		yes := true
		if _, err := s.UpdateUser(ctx, "alice", UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "alice", "alice-password", "192.0.2.1"); !errors.Is(err, ErrUserDisabled) {
			t.Errorf("disabled user: %v", err)
		}
		if _, _, err := s.Login(ctx, "alice", "wrong-password", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("disabled user, wrong password: %v (must not reveal the account)", err)
		}
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("session of a disabled user still works: %v", err)
		}
		// Enabling the account again does not bring old sign-ins back.
		no := false
		if _, err := s.UpdateUser(ctx, "alice", UserUpdate{Disabled: &no}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("a sign-in from before the account was disabled works again after enabling it: %v", err)
		}
		if _, _, err := s.Login(ctx, "alice", "alice-password", "192.0.2.1"); err != nil {
			t.Errorf("sign in after enabling: %v", err)
		}
	})
}

func TestLoginRateLimitPerUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now
		mustUser(t, s, "alice", RoleUser)

		// Five failures from five addresses, one second apart.
		for i := range 5 {
			_, _, err := s.Login(ctx, "alice", "guess", fmt.Sprintf("203.0.113.%d", i))
			if !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("attempt %d: %v", i, err)
			}
			clk.Advance(time.Second)
		}
		// The sixth, from a fresh address and with the right password, is refused
		// without checking it, until the first failure leaves the window.
		_, _, err := s.Login(ctx, "ALICE", "alice-password", "203.0.113.99")
		var rl *RateLimitError
		if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("sixth attempt: %v, want a *RateLimitError", err)
		}
		if rl.RetryAfter != 55*time.Second || rl.Seconds() != 55 {
			t.Errorf("RetryAfter = %v (%d s), want 55s", rl.RetryAfter, rl.Seconds())
		}
		// An unknown user is limited the same way, so 429 reveals nothing.
		for range 5 {
			_, _, _ = s.Login(ctx, "ghost", "guess", "")
		}
		if _, _, err := s.Login(ctx, "ghost", "guess", ""); !errors.Is(err, ErrRateLimited) {
			t.Errorf("unknown user not limited: %v", err)
		}
		// Other users are unaffected.
		mustUser(t, s, "bob", RoleUser)
		if _, _, err := s.Login(ctx, "bob", "bob-password", "203.0.113.1"); err != nil {
			t.Errorf("another user: %v", err)
		}
		clk.Advance(55 * time.Second)
		if _, _, err := s.Login(ctx, "alice", "alice-password", "203.0.113.99"); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now
		mustUser(t, s, "carol", RoleUser)

		// Spraying five names from one IPv6 /64, ports and hosts varying.
		for i := range 5 {
			addr := fmt.Sprintf("[2001:db8:1:2::%x]:%d", i, 40000+i)
			if _, _, err := s.Login(ctx, fmt.Sprintf("user%d", i), "guess", addr); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		clk.Advance(10 * time.Second)
		_, _, err := s.Login(ctx, "carol", "carol-password", "2001:db8:1:2::ffff")
		var rl *RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != 50*time.Second {
			t.Fatalf("from the same /64: %v, want RetryAfter 50s", err)
		}
		if _, _, err := s.Login(ctx, "carol", "carol-password", "2001:db8:1:3::1"); err != nil {
			t.Errorf("from another /64: %v", err)
		}
		// IPv4 and IPv4-mapped IPv6 are one address.
		for range 5 {
			_, _, _ = s.Login(ctx, "x", "guess", "192.0.2.7:1")
		}
		if _, _, err := s.Login(ctx, "carol", "carol-password", "[::ffff:192.0.2.7]:2"); !errors.Is(err, ErrRateLimited) {
			t.Errorf("IPv4-mapped address not limited with its IPv4 form: %v", err)
		}
	})
}

func TestLoginSuccessDoesNotCount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		mustUser(t, s, "dave", RoleUser)
		for i := range 20 {
			if _, _, err := s.Login(ctx, "dave", "dave-password", "192.0.2.50"); err != nil {
				t.Fatalf("sign-in %d: %v", i, err)
			}
		}
	})
}

// TestLoginTiming checks an unknown user costs about what a known one does
// (the dummy hash), with real-sized (if smaller than default) parameters.
func TestLoginTiming(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		cfg := testConfig()
		cfg.PasswordTime, cfg.PasswordMemory, cfg.PasswordThreads = 1, 8*1024, 1
		cfg.LoginMaxFailures = 1000
		s, _ := db.openLogged(t, cfg)
		ctx := context.Background()
		mustUser(t, s, "erin", RoleUser)

		// Interleaved, so that both see the same load on a shared machine;
		// the fastest try of each is its cost without interference.
		try := func(name string) time.Duration {
			start := time.Now()
			_, _, err := s.Login(ctx, name, "wrong-password", "")
			if !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("Login(%s): %v", name, err)
			}
			return time.Since(start)
		}
		known, unknown := time.Hour, time.Hour
		for range 11 {
			known = min(known, try("erin"))
			unknown = min(unknown, try("nobody"))
		}
		t.Logf("failed sign-in: known user %v, unknown user %v", known, unknown)
		if ratio := float64(max(known, unknown)) / float64(min(known, unknown)); ratio > 3 {
			t.Errorf("known %v vs unknown %v differ by %.1fx", known, unknown, ratio)
		}
		if unknown < time.Millisecond {
			t.Errorf("an unknown user costs only %v: the dummy hash is not computed", unknown)
		}
	})
}

func TestPasswordRehashAndBcrypt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		mustUser(t, s, "frank", RoleUser)
		hashOf := func(s *Store) string {
			var h string
			rawQueryRow(t, s, []any{&h}, "SELECT password_hash FROM users WHERE name = 'frank'")
			return h
		}
		old := hashOf(s)
		if !strings.HasPrefix(old, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("hash %q does not record its parameters", old)
		}
		_ = s.Close()

		cfg := testConfig()
		cfg.PasswordMemory, cfg.PasswordTime = 128, 2
		s2, _ := db.openLogged(t, cfg)
		mustLogin(t, s2, "frank") // old parameters still verify
		if h := hashOf(s2); !strings.HasPrefix(h, "$argon2id$v=19$m=128,t=2,p=1$") {
			t.Errorf("not rehashed with the new parameters: %q", h)
		}

		// A bcrypt hash (imported) verifies and is upgraded to argon2id.
		b, err := bcrypt.GenerateFromPassword([]byte("frank-password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		rawExec(t, s2, "UPDATE users SET password_hash = ? WHERE name = 'frank'", string(b))
		if _, _, err := s2.Login(ctx, "frank", "bcrypt-wrong", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("bcrypt, wrong password: %v", err)
		}
		mustLogin(t, s2, "frank")
		if h := hashOf(s2); !strings.HasPrefix(h, "$argon2id$") {
			t.Errorf("bcrypt hash not upgraded: %q", h)
		}
	})
}
