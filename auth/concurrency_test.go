package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentUse has many goroutines sign in, authenticate, create and
// revoke keys and change accounts at once; run it with -race.
func TestConcurrentUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		const workers, rounds = 16, 12
		for i := range workers {
			mustUser(t, s, fmt.Sprintf("w%d", i), RoleUser)
		}
		var wg sync.WaitGroup
		var ops atomic.Int64
		errs := make(chan error, workers*rounds)
		for i := range workers {
			wg.Go(func() {
				name := fmt.Sprintf("w%d", i)
				for r := range rounds {
					_, tok, err := s.Login(ctx, name, name+"-password", fmt.Sprintf("10.0.%d.%d", i, r))
					if err != nil {
						errs <- fmt.Errorf("%s login: %w", name, err)
						return
					}
					for range 5 {
						p, err := s.Authenticate(ctx, tok)
						if err != nil || p.User != name {
							errs <- fmt.Errorf("%s authenticate: %+v, %w", name, p, err)
							return
						}
					}
					k, key, err := s.CreateToken(ctx, name, Scope{Action: ActionPublish, Stream: "users/" + name}, "r", 0)
					if err != nil {
						errs <- fmt.Errorf("%s create key: %w", name, err)
						return
					}
					p, err := s.Authenticate(ctx, key)
					if err != nil || Authorize(&p, ActionPublish, "users/"+name, StreamInfo{}) != nil {
						errs <- fmt.Errorf("%s key: %+v, %w", name, p, err)
						return
					}
					if err := s.RevokeToken(ctx, k.ID); err != nil {
						errs <- fmt.Errorf("%s revoke: %w", name, err)
						return
					}
					if _, err := s.Authenticate(ctx, key); !errors.Is(err, ErrInvalidToken) {
						errs <- fmt.Errorf("%s: revoked key still works: %w", name, err)
						return
					}
					if err := s.Logout(ctx, tok); err != nil {
						errs <- fmt.Errorf("%s logout: %w", name, err)
						return
					}
					if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidToken) {
						errs <- fmt.Errorf("%s: logged-out session still works: %w", name, err)
						return
					}
					_ = s.TouchLastSeen(ctx, name)
					if _, err := s.ListUsers(ctx); err != nil {
						errs <- err
						return
					}
					ops.Add(1)
				}
			})
		}
		// Meanwhile an admin creates and deletes users.
		wg.Go(func() {
			for r := range rounds * 2 {
				name := fmt.Sprintf("tmp%d", r)
				if _, err := s.CreateUser(ctx, NewUser{Name: name, Password: "temporary-pw"}); err != nil {
					errs <- err
					return
				}
				if err := s.DeleteUser(ctx, name); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := ops.Load(); got != workers*rounds {
			t.Errorf("%d rounds completed, want %d", got, workers*rounds)
		}
	})
}

// TestRevokeRacesCache checks that a revocation committed while a lookup
// is in flight never leaves the revoked token in the cache.
func TestRevokeRacesCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		for range 50 {
			k, key, err := s.CreateToken(ctx, "admin", Scope{Action: ActionPublish, Stream: "live/x"}, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { _, _ = s.Authenticate(ctx, key) })
			}
			if err := s.RevokeToken(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if _, err := s.Authenticate(ctx, key); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("revoked key authenticated after the race: %v", err)
			}
		}
	})
}

// TestCacheGeneration checks the cache step by step: a lookup that began
// before an invalidation must not store its result.
func TestCacheGeneration(t *testing.T) {
	c := newTokenCache(time.Minute)
	now := time.Now()
	var sum [32]byte
	p := Principal{User: "u", Kind: PrincipalKey, Scope: &Scope{ActionView, "live/x"}}

	gen := c.generation()
	c.invalidate() // a revocation commits while the lookup runs
	c.put(sum, p, time.Time{}, now, gen)
	if _, ok := c.get(sum, now); ok {
		t.Fatal("a result from before an invalidation was cached")
	}

	c.put(sum, p, now.Add(time.Second), now, c.generation())
	got, ok := c.get(sum, now)
	if !ok || got.User != "u" {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	got.Scope.Stream = "live/changed"
	if again, _ := c.get(sum, now); again.Scope.Stream != "live/x" {
		t.Error("a caller changed the cached scope")
	}
	if _, ok := c.get(sum, now.Add(time.Second)); ok {
		t.Error("served past the token's expiry")
	}
	c.put(sum, p, time.Time{}, now, c.generation())
	if _, ok := c.get(sum, now.Add(time.Minute)); ok {
		t.Error("served past the cache TTL")
	}
	off := newTokenCache(-1)
	off.put(sum, p, time.Time{}, now, off.generation())
	if _, ok := off.get(sum, now); ok {
		t.Error("a disabled cache served an entry")
	}
}
