package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Authenticate turns a session token or publish key into the principal it
// stands for. It fails with ErrInvalidToken for a malformed, unknown,
// expired or revoked token, or one whose owner is disabled.
//
// The token's SHA-256 is looked up by index; the result is kept in memory
// for up to TOKEN_CACHE_TTL (never past the token's expiry). Every change
// through this Store that could revoke a token (Logout, RevokeToken,
// RevokeSessions, SetPassword, UpdateUser, DeleteUser) empties that cache
// when it commits, so revocation is immediate within the process. On
// PostgreSQL the other processes hear of the change (LISTEN/NOTIFY) and
// empty theirs too, and while a process cannot hear, it keeps nothing; on
// SQLite, changes by another process on the same file apply within
// TOKEN_CACHE_TTL.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	kind := kindOf(token)
	if kind == "" {
		return Principal{}, ErrInvalidToken
	}
	sum := sha256.Sum256([]byte(token))
	now := s.now()
	if p, ok := s.cache.get(sum, now); ok {
		return p, nil
	}
	gen := s.cache.generation()
	t, err := s.read().lookup(ctx, sum[:])
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	exp := t.expires
	if t.kind != kind || t.disabled || !exp.IsZero() && !now.Before(exp) {
		return Principal{}, ErrInvalidToken
	}
	p := Principal{User: t.owner, Kind: t.kind, TokenID: t.id}
	if kind == PrincipalKey {
		p.Scope = &Scope{Action: Action(t.action), Stream: t.stream}
	} else {
		p.Role = t.role
	}
	s.cache.put(sum, p, exp, now, gen)
	return p, nil
}

// maxCachedTokens bounds the token cache; when full it is emptied.
const maxCachedTokens = 4096

// tokenCache remembers recent Authenticate results. Invalidation bumps a
// generation: a lookup that started before an invalidation does not store
// its (possibly stale) result, so a revocation racing a lookup cannot leave
// the revoked token cached.
type tokenCache struct {
	ttl time.Duration // <= 0: disabled
	// paused turns the cache off while revocations by other processes
	// could go unheard (the PostgreSQL listener is not connected).
	paused atomic.Bool

	// mu guards all following fields.
	mu      sync.Mutex
	gen     uint64
	entries map[[sha256.Size]byte]cachedPrincipal
}

// cachedPrincipal is a cache entry.
type cachedPrincipal struct {
	p     Principal
	until time.Time
}

// newTokenCache returns a cache keeping entries for ttl (<= 0 disables it).
func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, entries: make(map[[sha256.Size]byte]cachedPrincipal)}
}

// get returns a copy of the cached principal for a token hash, if fresh.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time) (Principal, bool) {
	if c.ttl <= 0 || c.paused.Load() {
		return Principal{}, false
	}
	c.mu.Lock()
	e, ok := c.entries[sum]
	if ok && !now.Before(e.until) {
		delete(c.entries, sum)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return Principal{}, false
	}
	p := e.p
	if p.Scope != nil {
		sc := *p.Scope // callers may not change the cached scope
		p.Scope = &sc
	}
	return p, true
}

// generation returns the current generation, read before a lookup.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores a lookup's result until now+ttl or the token's expiry
// (expires; zero is never), unless the cache was invalidated since gen.
func (c *tokenCache) put(sum [sha256.Size]byte, p Principal, expires, now time.Time, gen uint64) {
	if c.ttl <= 0 || c.paused.Load() {
		return
	}
	until := now.Add(c.ttl)
	if !expires.IsZero() && expires.Before(until) {
		until = expires
	}
	if p.Scope != nil {
		sc := *p.Scope
		p.Scope = &sc
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedTokens {
		clear(c.entries)
	}
	c.entries[sum] = cachedPrincipal{p: p, until: until}
}

// pause turns the cache off (on) and forgets every entry, or turns it
// back on (off): entries stored before the pause are gone, and a lookup
// that began before it cannot store its result.
func (c *tokenCache) pause(on bool) {
	if on {
		c.paused.Store(true)
		c.invalidate()
		return
	}
	c.invalidate()
	c.paused.Store(false)
}

// invalidate forgets every entry; call it after committing any change that
// could revoke a token.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}
