package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Session is a sign-in session: what Login returns next to the token.
type Session struct {
	// ID names the session for listing and revoking; it is not secret.
	ID         string
	User       string
	ClientAddr string
	Created    time.Time
	Expires    time.Time
}

// sessionOf converts a stored token of kind session.
func sessionOf(t Token) Session {
	return Session{ID: t.ID, User: t.Owner, ClientAddr: t.ClientAddr, Created: t.Created, Expires: t.Expires}
}

// Login checks a user name and password and opens a session, returning it
// and its token ("wcs_" and 256 random bits, shown once; only its SHA-256
// is stored), valid for SESSION_TTL.
//
// Failures are ErrBadCredentials whether or not the user exists, and cost
// the same either way (an unknown user is checked against a dummy hash);
// ErrUserDisabled comes only after the right password. Attempts are
// limited per user name and per client address (clientAddr, "ip" or
// "ip:port"; IPv6 per /64): past LOGIN_MAX_FAILURES attempts in
// LOGIN_WINDOW, Login fails fast with a *RateLimitError (ErrRateLimited)
// until the window has room. Successful sign-ins do not count.
func (s *Store) Login(ctx context.Context, name, password, clientAddr string) (Session, string, error) {
	sess, tok, err := s.login(ctx, name, password, clientAddr)
	var rl *RateLimitError
	switch {
	case err == nil:
		s.signIns.ok.Add(1)
	case errors.As(err, &rl):
		s.signIns.limited.Add(1)
	case errors.Is(err, ErrBadCredentials):
		s.signIns.bad.Add(1)
	case errors.Is(err, ErrUserDisabled):
		s.signIns.disabled.Add(1)
	default:
		s.signIns.failed.Add(1)
	}
	return sess, tok, err
}

// SignInStats counts sign-in attempts by result since the store opened.
type SignInStats struct {
	OK, BadCredentials, Disabled, RateLimited, Error uint64
}

// SignIns returns the sign-in counts, for metrics.
func (s *Store) SignIns() SignInStats {
	return SignInStats{OK: s.signIns.ok.Load(), BadCredentials: s.signIns.bad.Load(), Disabled: s.signIns.disabled.Load(),
		RateLimited: s.signIns.limited.Load(), Error: s.signIns.failed.Load()}
}

func (s *Store) login(ctx context.Context, name, password, clientAddr string) (Session, string, error) {
	start := s.now()
	ukey, akey := userKey(name), addrKey(clientAddr)
	if wait := s.limits.begin(start, ukey, akey); wait > 0 {
		return Session{}, "", fmt.Errorf("sign in: %w", &RateLimitError{RetryAfter: wait})
	}
	canonical, hash, disabled, err := s.credentials(ctx, name)
	if err != nil {
		return Session{}, "", fmt.Errorf("sign in: %w", err)
	}
	if err := s.hasher.acquire(ctx); err != nil {
		return Session{}, "", fmt.Errorf("sign in: %w", err)
	}
	ok, stale, err := s.hasher.verify(hash, password)
	s.hasher.release()
	switch {
	case err != nil:
		s.log.Error("stored password hash is unreadable", "user", canonical, "err", err)
		return Session{}, "", fmt.Errorf("sign in: %w", ErrBadCredentials)
	case !ok:
		return Session{}, "", fmt.Errorf("sign in: %w", ErrBadCredentials)
	case disabled:
		return Session{}, "", fmt.Errorf("sign in: %w", ErrUserDisabled)
	}
	s.limits.succeeded(start, ukey, akey)

	newHash := ""
	if stale { // parameters changed (or a bcrypt import): upgrade now we know the password
		if newHash, err = s.hasher.hash(ctx, password); err != nil {
			return Session{}, "", fmt.Errorf("sign in: %w", err)
		}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	t := Token{ID: newID(), Kind: PrincipalSession, Owner: canonical, ClientAddr: clip(clientAddr),
		Created: now, Expires: now.Add(s.cfg.SessionTTL)}
	secret, sum := newSecret(SessionPrefix)
	err = s.db.autocommit(ctx, func(q queries) error { return q.deleteExpired(ctx, now) })
	if err != nil {
		return Session{}, "", fmt.Errorf("sign in %s: prune expired tokens: %w", canonical, err)
	}
	err = s.write(ctx, "sign in "+canonical, func(q queries) error {
		if err := q.insertToken(ctx, t, sum[:]); err != nil {
			return err
		}
		return q.signedIn(ctx, canonical, now, newHash)
	})
	if err != nil {
		return Session{}, "", err
	}
	return sessionOf(t), secret, nil
}

// credentials returns a user's canonical name, password hash and disabled
// flag; for an unknown or invalid name it returns an empty hash (which
// verifies against the dummy) and no error.
func (s *Store) credentials(ctx context.Context, name string) (canonical, hash string, disabled bool, err error) {
	if ValidateName(name) != nil {
		return "", "", false, nil
	}
	c, err := s.read().credentials(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("look up user: %w", err)
	}
	return c.name, c.hash, c.disabled, nil
}

// Logout ends the session of a token; it stops working at once.
// ErrInvalidToken if the token is not a live session.
func (s *Store) Logout(ctx context.Context, token string) error {
	if kindOf(token) != PrincipalSession {
		return fmt.Errorf("sign out: %w", ErrInvalidToken)
	}
	sum := sha256.Sum256([]byte(token))
	err := s.write(ctx, "sign out", func(q queries) error {
		owner, id, err := q.deleteSession(ctx, sum[:])
		if err != nil {
			return err
		}
		return q.revoked(ctx, Revocation{User: owner, TokenID: id})
	})
	s.cache.invalidate()
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("sign out: %w", ErrInvalidToken)
	}
	return err
}

// RevokeSessions ends every session of a user (publish keys stay) and
// returns how many there were.
func (s *Store) RevokeSessions(ctx context.Context, user string) (int, error) {
	if ValidateName(user) != nil {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, "revoke sessions of "+clip(user), func(q queries) error {
		var err error
		if n, err = q.deleteSessions(ctx, user); err != nil || n == 0 {
			return err
		}
		return q.revoked(ctx, Revocation{User: user, Sessions: true})
	})
	s.cache.invalidate()
	return int(n), err
}

// ListSessions returns the unexpired sessions of a user, or of everyone if
// user is "", newest first.
func (s *Store) ListSessions(ctx context.Context, user string) ([]Session, error) {
	ts, err := s.listTokens(ctx, PrincipalSession, user)
	if err != nil {
		return nil, err
	}
	ss := make([]Session, len(ts))
	for i, t := range ts {
		ss[i] = sessionOf(t)
	}
	return ss, nil
}
