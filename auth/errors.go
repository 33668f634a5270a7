package auth

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrBadCredentials is returned by Login for an unknown user or a wrong
	// password; the two are never told apart.
	ErrBadCredentials = errors.New("wrong user name or password")

	// ErrUserDisabled is returned by Login when the password is right but the
	// account has been disabled by an admin.
	ErrUserDisabled = errors.New("this account is disabled")

	// ErrRateLimited is matched (errors.Is) by every *RateLimitError.
	ErrRateLimited = errors.New("too many failed sign-ins")

	// ErrInvalidToken is returned by Authenticate for a token that is
	// malformed, unknown, expired or revoked, or whose owner is disabled.
	ErrInvalidToken = errors.New("invalid, expired or revoked token")

	// ErrUnauthenticated is returned by Authorize when nobody is signed in
	// and signing in could grant the request (HTTP 401).
	ErrUnauthenticated = errors.New("sign-in required")

	// ErrForbidden is returned by Authorize when the principal is known but
	// may not do what it asks (HTTP 403).
	ErrForbidden = errors.New("not allowed")

	// ErrNotFound is returned for a user, token, device or call that does not
	// exist.
	ErrNotFound = errors.New("not found")

	// ErrExists is returned when creating a user, device or call record whose
	// name or id is taken.
	ErrExists = errors.New("already exists")

	// ErrInvalid is wrapped by every validation error (bad name, role,
	// password, scope, label, ...); the message says what is wrong.
	ErrInvalid = errors.New("invalid")

	// ErrLastAdmin is returned when a change would leave the store without an
	// enabled admin (deleting, demoting or disabling the last one).
	ErrLastAdmin = errors.New("the last enabled admin cannot be deleted, demoted or disabled")
)

// RateLimitError is returned by Login while sign-ins for the user name or
// from the client address are blocked after too many failures. It matches
// ErrRateLimited with errors.Is.
type RateLimitError struct {
	// RetryAfter is how long until the next attempt may be made; round it up
	// to whole seconds for the Retry-After header.
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: try again in %d s", ErrRateLimited, e.Seconds())
}

// Seconds is RetryAfter rounded up to whole seconds (at least 1), the value
// for a Retry-After header.
func (e *RateLimitError) Seconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// invalidf returns an error wrapping ErrInvalid with a reason.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
