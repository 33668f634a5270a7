package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
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

// tokenColumns are the columns scanToken reads, in order.
const tokenColumns = "id, kind, owner, action, stream, label, client_addr, created_at, expires_at"

// scanToken reads one row of tokenColumns.
func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created, expires int64
	err := row.Scan(&t.ID, &t.Kind, &t.Owner, &t.Scope.Action, &t.Scope.Stream, &t.Label, &t.ClientAddr, &created, &expires)
	t.Created, t.Expires = fromMillis(created), fromMillis(expires)
	return t, err
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
	err = s.write(ctx, "create key for "+clip(owner), func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT name FROM users WHERE name = ?", owner).Scan(&t.Owner)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", clip(owner), ErrNotFound)
		}
		if err != nil {
			return err
		}
		return insertToken(ctx, tx, t, hash)
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// insertToken adds a token row inside tx.
func insertToken(ctx context.Context, tx *sql.Tx, t Token, hash [sha256.Size]byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, hash, kind, owner, action, stream, label, client_addr, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, hash[:], string(t.Kind), t.Owner, string(t.Scope.Action), t.Scope.Stream, t.Label, t.ClientAddr,
		millis(t.Created), millis(t.Expires))
	return err
}

// ListTokens returns the unexpired publish keys of owner, or of everyone if
// owner is "", newest first.
func (s *Store) ListTokens(ctx context.Context, owner string) ([]Token, error) {
	return s.listTokens(ctx, PrincipalKey, owner)
}

// listTokens returns the unexpired tokens of a kind, of owner or everyone.
func (s *Store) listTokens(ctx context.Context, kind PrincipalKind, owner string) ([]Token, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+tokenColumns+` FROM tokens
		WHERE kind = ? AND (? = '' OR owner = ?) AND (expires_at = 0 OR expires_at > ?)
		ORDER BY created_at DESC, id`, string(kind), owner, owner, millis(s.now()))
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", kind, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	return ts, nil
}

// GetToken returns the session or publish key with this id (ErrNotFound if
// there is none or it has expired), so a handler can check its owner before
// revoking it.
func (s *Store) GetToken(ctx context.Context, id string) (Token, error) {
	t, err := scanToken(s.rdb.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && !t.Expires.IsZero() && !s.now().Before(t.Expires) {
		return Token{}, fmt.Errorf("token %s: %w", clip(id), ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("get token %s: %w", clip(id), err)
	}
	return t, nil
}

// RevokeToken deletes a session or publish key by id; it stops working at
// once. ErrNotFound if there is no such token.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	return s.deleteTokens(ctx, "revoke token "+clip(id), true, "DELETE FROM tokens WHERE id = ?", id)
}

// deleteTokens runs a DELETE on tokens and then drops the in-memory cache,
// failing with ErrNotFound if mustExist and nothing was deleted.
func (s *Store) deleteTokens(ctx context.Context, what string, mustExist bool, query string, args ...any) error {
	var n int64
	err := s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	s.cache.invalidate()
	if err != nil {
		return err
	}
	if mustExist && n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
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
