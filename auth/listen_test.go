package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// revocationLog records what a store's SetOnRevoke hook heard.
type revocationLog struct {
	mu    sync.Mutex
	heard []Revocation
}

func (l *revocationLog) add(r Revocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heard = append(l.heard, r)
}

func (l *revocationLog) has(r Revocation) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.heard, r)
}

func (l *revocationLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.heard)
}

// waitFor polls cond every few milliseconds for up to d and reports how
// long it took, failing the test if it never held.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// listening waits until s hears other processes (its cache is on).
func listening(t *testing.T, s *Store) {
	t.Helper()
	waitFor(t, 10*time.Second, "the store to listen", func() bool { return !s.cache.paused.Load() })
}

// On PostgreSQL a revocation made through one store reaches the others
// (LISTEN/NOTIFY) at once: they drop their cached tokens, however long
// TOKEN_CACHE_TTL is, and their hook hears what changed; the store that
// made the change does not hear itself.
func TestRevocationReachesOtherStores(t *testing.T) {
	db := &testDB{kind: "postgres", loc: Location{URL: pg.Database(t)}}
	cfg := testConfig()
	cfg.TokenCacheTTL = time.Hour
	a, _ := db.openLogged(t, cfg)
	b, _ := db.openLogged(t, cfg)
	var heardA, heardB revocationLog
	a.SetOnRevoke(heardA.add)
	b.SetOnRevoke(heardB.add)
	listening(t, a)
	listening(t, b)
	ctx := context.Background()
	refused := func(tok string) func() bool {
		return func() bool { _, err := b.Authenticate(ctx, tok); return errors.Is(err, ErrInvalidToken) }
	}

	k, key, err := a.CreateToken(ctx, "admin", Scope{Action: ActionPublish, Stream: "live/x"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, key); err != nil { // cached in b for an hour
		t.Fatal(err)
	}
	if err := a.RevokeToken(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 2*time.Second, "the other store to refuse a revoked key", refused(key))
	waitFor(t, 2*time.Second, "the revocation of the key to be heard", func() bool {
		return heardB.has(Revocation{User: "admin", TokenID: k.ID})
	})
	t.Logf("a key revoked through one store was refused by the other after %v", took)

	mustUser(t, a, "dora", RoleUser)
	sess := mustLogin(t, a, "dora")
	if _, err := b.Authenticate(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPassword(ctx, "dora", "dora-new-password"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "a session ended by a new password to be refused", refused(sess))
	waitFor(t, 2*time.Second, "the password change to be heard", func() bool {
		return heardB.has(Revocation{User: "dora", Sessions: true})
	})

	sess, _ = loginAs(t, a, "dora", "dora-new-password")
	if _, err := b.Authenticate(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := a.Logout(ctx, sess); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "a signed-out session to be refused", refused(sess))

	if _, err := a.UpdateUser(ctx, "dora", UserUpdate{Watch: new(WatchNobody)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "an account change to be heard", func() bool { return heardB.has(Revocation{User: "dora"}) })
	if n := heardA.len(); n != 0 {
		t.Errorf("the store that made the changes heard %d of them itself", n)
	}
}

// loginAs signs a user in with a password and returns the token.
func loginAs(t *testing.T, s *Store, name, password string) (string, Session) {
	t.Helper()
	sess, tok, err := s.Login(context.Background(), name, password, "192.0.2.1")
	if err != nil {
		t.Fatalf("Login(%s): %v", name, err)
	}
	return tok, sess
}

// A store that stops hearing the others keeps no token in its cache until
// it hears again: a revocation sent meanwhile is lost, and must not leave
// a revoked key working.
func TestListenerLossTurnsCacheOff(t *testing.T) {
	db := &testDB{kind: "postgres", loc: Location{URL: pg.Database(t)}}
	cfg := testConfig()
	cfg.TokenCacheTTL = time.Hour
	a, _ := db.openLogged(t, cfg)
	b, logs := db.openLogged(t, cfg)
	listening(t, b)
	ctx := context.Background()
	k, key, err := a.CreateToken(ctx, "admin", Scope{Action: ActionPublish, Stream: "live/x"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, key); err != nil {
		t.Fatal(err)
	}
	// Cut every listener of the database, as a network fault would.
	rawExec(t, a, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()", pgListenerAppName)
	waitFor(t, 5*time.Second, "the store to notice it cannot hear", func() bool { return b.cache.paused.Load() })
	if err := a.RevokeToken(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, key); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a key revoked while the store could not hear still works: %v", err)
	}
	listening(t, b) // it connects again
	if _, err := b.Authenticate(ctx, key); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a revoked key works after the listener came back: %v", err)
	}
	waitFor(t, time.Second, "the loss to be logged", func() bool { return len(logs.String()) > 0 })
	t.Logf("log: %s", logs)
}
