package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token prefixes say what a token is, so that a leaked one is easy to
// recognise (secret scanners) and Authenticate can reject junk without a
// lookup.
const (
	SessionPrefix = "wcs_" // sign-in session tokens
	KeyPrefix     = "wck_" // publish keys
)

// tokenBytes is the randomness in a token: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a token: a prefix and 43 characters of
// unpadded base64url.
const tokenLen = len(SessionPrefix) + (tokenBytes*8+5)/6

// Token is a stored session or publish key, without its secret.
type Token struct {
	// ID names the token for listing and revoking; it is not secret.
	ID    string
	Kind  PrincipalKind
	Owner string
	// Scope is what a publish key allows (zero for a session).
	Scope Scope
	// Label is a publish key's note ("OBS in the studio").
	Label string
	// ClientAddr is where a session signed in from.
	ClientAddr string
	Created    time.Time
	// Expires is when the token stops working; zero means never.
	Expires time.Time
}

// newSecret returns a fresh token with prefix and the SHA-256 that is
// stored in its place.
func newSecret(prefix string) (string, [sha256.Size]byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, sha256.Sum256([]byte(tok))
}

// newID returns a random token id (96 bits, 16 characters of base64url).
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateToken makes a publish key for owner that allows exactly scope, with
// a label, valid for ttl (0 means until revoked). It returns the key's
// record and the key itself ("wck_..."), which is shown this once: only its
// SHA-256 is stored. Who may create which key is CanCreateToken's call.
func (s *Store) CreateToken(ctx context.Context, owner string, scope Scope, label string, ttl time.Duration) (Token, string, error) {
	if err := scope.validate(); err != nil {
		return Token{}, "", fmt.Errorf("create key: %w", err)
	}
	label, err := cleanText("label", label)
	if err != nil {
		return Token{}, "", fmt.Errorf("create key: %w", err)
	}
	if ttl < 0 {
		return Token{}, "", fmt.Errorf("create key: %w", invalidf("lifetime %s is negative", ttl))
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	t := Token{ID: newID(), Kind: PrincipalKey, Scope: scope, Label: label, Created: now}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	secret, hash := newSecret(KeyPrefix)
	err = s.write(ctx, "create key for "+clip(owner), func(q queries) error {
		u, err := findUser(ctx, q, owner)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("user %s: %w", clip(owner), ErrNotFound)
		}
		if err != nil {
			return err
		}
		t.Owner = u.Name
		return q.insertToken(ctx, t, hash[:])
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// ListTokens returns the unexpired publish keys of owner, or of everyone if
// owner is "", newest first.
func (s *Store) ListTokens(ctx context.Context, owner string) ([]Token, error) {
	return s.listTokens(ctx, PrincipalKey, owner)
}

// listTokens returns the unexpired tokens of a kind, of owner or everyone.
func (s *Store) listTokens(ctx context.Context, kind PrincipalKind, owner string) ([]Token, error) {
	if owner != "" && ValidateName(owner) != nil {
		return nil, nil
	}
	ts, err := s.read().tokens(ctx, kind, owner, s.now())
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	return ts, nil
}

// GetToken returns the session or publish key with this id (ErrNotFound if
// there is none or it has expired), so a handler can check its owner before
// revoking it.
func (s *Store) GetToken(ctx context.Context, id string) (Token, error) {
	t, err := s.read().token(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && !t.Expires.IsZero() && !s.now().Before(t.Expires) {
		return Token{}, fmt.Errorf("token %s: %w", clip(id), ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("get token %s: %w", clip(id), err)
	}
	return t, nil
}

// LiveSessions returns which of the sign-in session ids still let their
// holder in: the session exists and has not expired, and its user exists
// and is enabled. It asks the database once however many ids there are
// (none for no ids), so that a node can check all its open pages at once.
func (s *Store) LiveSessions(ctx context.Context, ids []string) (map[string]bool, error) {
	live := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return live, nil
	}
	found, err := s.read().liveSessions(ctx, ids, s.now())
	if err != nil {
		return nil, fmt.Errorf("check %d sign-in sessions: %w", len(ids), err)
	}
	for _, id := range found {
		live[id] = true
	}
	return live, nil
}

// RevokeToken deletes a session or publish key by id; it stops working at
// once. ErrNotFound if there is no such token.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	err := s.write(ctx, "revoke token "+clip(id), func(q queries) error {
		owner, err := q.deleteToken(ctx, id)
		if err != nil {
			return err
		}
		return q.revoked(ctx, Revocation{User: owner, TokenID: id})
	})
	s.cache.invalidate()
	return err
}

// kindOf returns the kind a token's prefix announces, or "" if the token
// cannot be one of ours.
func kindOf(token string) PrincipalKind {
	if len(token) != tokenLen {
		return ""
	}
	switch {
	case strings.HasPrefix(token, SessionPrefix):
		return PrincipalSession
	case strings.HasPrefix(token, KeyPrefix):
		return PrincipalKey
	}
	return ""
}
