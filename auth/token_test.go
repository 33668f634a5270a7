package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionExpiryAndLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now
		mustUser(t, s, "alice", RoleUser)

		tok := mustLogin(t, s, "alice")
		if _, err := s.Authenticate(ctx, tok); err != nil { // now cached
			t.Fatal(err)
		}
		clk.Advance(720*time.Hour - time.Millisecond)
		if _, err := s.Authenticate(ctx, tok); err != nil {
			t.Fatalf("just before expiry: %v", err)
		}
		clk.Advance(time.Millisecond)
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("at expiry: %v", err)
		}
		if ss, _ := s.ListSessions(ctx, "alice"); len(ss) != 0 {
			t.Errorf("expired session listed: %+v", ss)
		}
		// The next sign-in prunes the expired row.
		tok2 := mustLogin(t, s, "alice")
		var n int
		if rawQueryRow(t, s, []any{&n}, "SELECT count(*) FROM tokens"); n != 1 {
			t.Errorf("%d token rows after pruning, want 1", n)
		}

		if _, err := s.Authenticate(ctx, tok2); err != nil { // cached again
			t.Fatal(err)
		}
		if err := s.Logout(ctx, tok2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, tok2); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("after logout: %v", err)
		}
		if err := s.Logout(ctx, tok2); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("second logout: %v", err)
		}
	})
}

func TestRevokeSessionsImmediate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		mustUser(t, s, "bob", RoleUser)
		mustUser(t, s, "carol", RoleUser)
		a, b, c := mustLogin(t, s, "bob"), mustLogin(t, s, "bob"), mustLogin(t, s, "carol")
		_, key, err := s.CreateToken(ctx, "bob", Scope{Action: ActionPublish, Stream: "users/bob"}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{a, b, c, key} {
			if _, err := s.Authenticate(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.RevokeSessions(ctx, "bob"); err != nil || n != 2 {
			t.Fatalf("RevokeSessions = %d, %v", n, err)
		}
		for _, tok := range []string{a, b} {
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("revoked session: %v", err)
			}
		}
		for _, tok := range []string{c, key} {
			if _, err := s.Authenticate(ctx, tok); err != nil {
				t.Errorf("unrelated token revoked: %v", err)
			}
		}
		// RevokeToken by id works for sessions too.
		sess, d, err := s.Login(ctx, "bob", "bob-password", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, d); err != nil {
			t.Fatal(err)
		}
		if tk, err := s.GetToken(ctx, sess.ID); err != nil || tk.Owner != "bob" || tk.Kind != PrincipalSession {
			t.Errorf("GetToken(session) = %+v, %v", tk, err)
		}
		if err := s.RevokeToken(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, d); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("session revoked by id: %v", err)
		}
	})
}

func TestPublishKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now

		exact, kExact, err := s.CreateToken(ctx, "admin", Scope{Action: ActionPublish, Stream: "live/obs"}, "OBS studio", 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(kExact, KeyPrefix) || len(kExact) != tokenLen || exact.Owner != "admin" ||
			exact.Label != "OBS studio" || !exact.Expires.IsZero() || exact.Kind != PrincipalKey {
			t.Errorf("CreateToken = %+v, %q", exact, kExact)
		}
		prefix, kPrefix, err := s.CreateToken(ctx, "ADMIN", Scope{Action: ActionPublish, Stream: "live/team/"}, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if prefix.Owner != "admin" || !prefix.Expires.Equal(clk.Now().Add(time.Hour)) {
			t.Errorf("prefix key %+v", prefix)
		}

		pe, err := s.Authenticate(ctx, kExact)
		if err != nil || pe.Kind != PrincipalKey || pe.User != "admin" || pe.Role != "" || pe.TokenID != exact.ID ||
			pe.Scope == nil || *pe.Scope != exact.Scope {
			t.Fatalf("Authenticate(key) = %+v, %v", pe, err)
		}
		pp, err := s.Authenticate(ctx, kPrefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			p      *Principal
			action Action
			stream string
			ok     bool
		}{
			{&pe, ActionPublish, "live/obs", true},
			{&pe, ActionPublish, "live/obs2", false},
			{&pe, ActionPublish, "live/obs/x", false},
			{&pe, ActionView, "live/obs", false},
			{&pe, ActionPublish, "users/admin", false},
			{&pp, ActionPublish, "live/team/a", true},
			{&pp, ActionPublish, "live/team/a/b", true},
			{&pp, ActionPublish, "live/team", false},
			{&pp, ActionPublish, "live/teamster", false},
			{&pp, ActionPublish, "live/obs", false},
		} {
			err := Authorize(c.p, c.action, c.stream, StreamInfo{})
			if (err == nil) != c.ok {
				t.Errorf("key %s: Authorize(%s %s) = %v, want ok=%v", c.p.Scope, c.action, c.stream, err, c.ok)
			}
		}

		ks, err := s.ListTokens(ctx, "admin")
		if err != nil || len(ks) != 2 {
			t.Fatalf("ListTokens = %+v, %v", ks, err)
		}
		mustUser(t, s, "zed", RoleUser)
		if ks, _ := s.ListTokens(ctx, "zed"); len(ks) != 0 {
			t.Errorf("zed's keys: %+v", ks)
		}
		if ks, _ := s.ListTokens(ctx, ""); len(ks) != 2 {
			t.Errorf("all keys: %+v", ks)
		}

		// Revocation is immediate even though the key is cached.
		if err := s.RevokeToken(ctx, exact.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, kExact); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("revoked key: %v", err)
		}
		if err := s.RevokeToken(ctx, exact.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoke twice: %v", err)
		}
		if _, err := s.GetToken(ctx, exact.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetToken of a revoked key: %v", err)
		}

		// Expiry, also through the cache.
		clk.Advance(time.Hour - time.Second)
		if _, err := s.Authenticate(ctx, kPrefix); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		clk.Advance(time.Second)
		if _, err := s.Authenticate(ctx, kPrefix); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("expired key: %v", err)
		}
		if ks, _ := s.ListTokens(ctx, "admin"); len(ks) != 0 {
			t.Errorf("expired key listed: %+v", ks)
		}

		if _, _, err := s.CreateToken(ctx, "nobody", Scope{Action: ActionView, Stream: "live/x"}, "", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("key for an unknown owner: %v", err)
		}
		if _, _, err := s.CreateToken(ctx, "admin", Scope{Action: ActionView, Stream: "live/x"}, "", -time.Second); !errors.Is(err, ErrInvalid) {
			t.Errorf("negative lifetime: %v", err)
		}
	})
}

func TestScopeValidation(t *testing.T) {
	for _, c := range []struct {
		scope Scope
		ok    bool
	}{
		{Scope{ActionPublish, "live/obs"}, true},
		{Scope{ActionPublish, "live/"}, true},
		{Scope{ActionPublish, "live/a/b/"}, true},
		{Scope{ActionView, "live/a/b/c"}, true},
		{Scope{ActionPublish, "users/alice"}, true},
		{Scope{ActionView, "devices/lobby"}, true},
		{Scope{ActionPublish, "calls/"}, true},
		{Scope{ActionPublish, "live/a/b/c/"}, false}, // nothing below a whole name
		{Scope{ActionPublish, "users/alice/"}, false},
		{Scope{ActionPublish, "devices/lobby"}, false}, // never published
		{Scope{ActionPublish, "devices/"}, false},
		{Scope{ActionPublish, "live"}, false},
		{Scope{ActionPublish, ""}, false},
		{Scope{ActionPublish, "/"}, false},
		{Scope{ActionPublish, "other/x"}, false},
		{Scope{ActionPublish, "live/../x"}, false},
		{Scope{ActionPublish, "live//"}, false},
		{Scope{"delete", "live/x"}, false},
		{Scope{"", "live/x"}, false},
	} {
		err := c.scope.validate()
		if (err == nil) != c.ok {
			t.Errorf("%q: validate() = %v, want ok=%v", c.scope, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v does not wrap ErrInvalid", c.scope, err)
		}
	}
}

func TestAuthenticateRejectsJunk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		mustUser(t, s, "gina", RoleUser)
		tok := mustLogin(t, s, "gina")
		swapped := KeyPrefix + strings.TrimPrefix(tok, SessionPrefix) // right secret, wrong kind
		flipped := tok[:len(tok)-1] + string(tok[len(tok)-1]^1)
		for _, junk := range []string{"", "wcs_", tok + "x", tok[:len(tok)-1], swapped, flipped, strings.ToUpper(tok), "Bearer " + tok} {
			if _, err := s.Authenticate(ctx, junk); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Authenticate(%q) = %v", junk, err)
			}
		}
	})
}

// TestSecretsNotStored checks that no token or password reaches the
// database in plain text, only their hashes.
func TestSecretsNotStored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		mustUser(t, s, "hank", RoleUser)
		sess := mustLogin(t, s, "hank")
		_, key, err := s.CreateToken(ctx, "hank", Scope{Action: ActionView, Stream: "users/hank"}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var stored []byte
		rawQueryRow(t, s, []any{&stored}, "SELECT hash FROM tokens WHERE kind = 'key'")
		if sum := sha256.Sum256([]byte(key)); !bytes.Equal(stored, sum[:]) {
			t.Error("the stored hash is not SHA-256 of the key")
		}
		secrets := []string{sess, key, strings.TrimPrefix(sess, SessionPrefix), strings.TrimPrefix(key, KeyPrefix), "hank-password", testAdminPassword}
		for where, b := range db.stored(t, s) {
			for _, sec := range secrets {
				if bytes.Contains(b, []byte(sec)) {
					t.Errorf("%s contains the secret %q", where, sec)
				}
			}
		}
	})
}

func TestScopeAllows(t *testing.T) {
	for _, c := range []struct {
		scope  Scope
		action Action
		stream string
		want   bool
	}{
		{Scope{ActionPublish, "live/obs"}, ActionPublish, "live/obs", true},
		{Scope{ActionPublish, "live/obs"}, ActionView, "live/obs", false},
		{Scope{ActionPublish, "live/obs"}, ActionPublish, "live/obs/x", false},
		{Scope{ActionPublish, "live/obs"}, ActionPublish, "live/ob", false},
		{Scope{ActionPublish, "live/"}, ActionPublish, "live/x", true},
		{Scope{ActionPublish, "live/"}, ActionPublish, "live/", false},
		{Scope{ActionPublish, "live/"}, ActionPublish, "live", false},
		{Scope{ActionPublish, "live/"}, ActionPublish, "lives/x", false},
		{Scope{ActionPublish, ""}, ActionPublish, "", false},
	} {
		if got := c.scope.Allows(c.action, c.stream); got != c.want {
			t.Errorf("%q.Allows(%s, %q) = %v, want %v", c.scope, c.action, c.stream, got, c.want)
		}
	}
}
