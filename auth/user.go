package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Role is what an account may do beyond the stream rules.
type Role string

// Roles.
const (
	// RoleAdmin may do everything Authorize allows anyone (see Authorize).
	RoleAdmin Role = "admin"
	// RoleUser is an ordinary signed-in user.
	RoleUser Role = "user"
)

// valid reports whether r is a known role.
func (r Role) valid() bool { return r == RoleAdmin || r == RoleUser }

// User is an account, without its password hash.
type User struct {
	// Name is the canonical spelling of the account name, a stream-name
	// segment (users/{Name} is the user's stream). Names are unique without
	// regard to ASCII case.
	Name        string
	DisplayName string
	Role        Role
	Disabled    bool
	Created     time.Time
	// LastSeen is the last sign-in or TouchLastSeen (zero if never).
	LastSeen time.Time
	// AllowWatch lets others watch the user's camera on request.
	AllowWatch bool
	// AutoAnswer makes the app accept incoming calls at once.
	AutoAnswer bool
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Name        string
	DisplayName string // defaults to Name
	Password    string // at least 8 characters
	Role        Role   // defaults to RoleUser
}

// UserUpdate lists the fields UpdateUser changes; nil fields are kept.
type UserUpdate struct {
	DisplayName *string
	Role        *Role
	Disabled    *bool
	AllowWatch  *bool
	AutoAnswer  *bool
}

// CreateUser adds an account. The name must be free (ErrExists), valid
// (ErrInvalid) and the password at least 8 characters.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if err := ValidateName(nu.Name); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	if nu.Role == "" {
		nu.Role = RoleUser
	}
	if !nu.Role.valid() {
		return User{}, fmt.Errorf("create user %s: %w", nu.Name, invalidf("role %q is not admin or user", nu.Role))
	}
	display, err := cleanText("display name", nu.DisplayName)
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
	}
	if display == "" {
		display = nu.Name
	}
	if err := checkPassword(nu.Password); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
	}
	hash, err := s.hasher.hash(ctx, nu.Password)
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
	}
	u := User{Name: nu.Name, DisplayName: display, Role: nu.Role, Created: s.now().UTC().Truncate(time.Millisecond),
		AllowWatch: true, AutoAnswer: true}
	err = s.write(ctx, "create user "+nu.Name, func(q queries) error { return insertUser(ctx, q, u, hash) })
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// insertUser adds a user row, failing with ErrExists if the name is taken.
func insertUser(ctx context.Context, q queries, u User, hash string) error {
	err := q.insertUser(ctx, u, hash)
	if errors.Is(err, ErrExists) {
		return fmt.Errorf("user %s: %w", u.Name, ErrExists)
	}
	return err
}

// findUser returns the account called name (any ASCII case), or
// ErrNotFound; an invalid name is never looked up.
func findUser(ctx context.Context, q queries, name string) (User, error) {
	if ValidateName(name) != nil {
		return User{}, ErrNotFound
	}
	return q.user(ctx, name)
}

// GetUser returns the account called name (any ASCII case), or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, err := findUser(ctx, s.read(), name)
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("user %s: %w", clip(name), ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", clip(name), err)
	}
	return u, nil
}

// ListUsers returns every account, by name (without regard to case).
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	us, err := s.read().users(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UpdateUser changes an account's display name, role or disabled flag and
// returns the result. It refuses (ErrLastAdmin) to demote or disable the
// last enabled admin. Tokens of a disabled user stop working at once.
func (s *Store) UpdateUser(ctx context.Context, name string, up UserUpdate) (User, error) {
	if up.Role != nil && !up.Role.valid() {
		return User{}, fmt.Errorf("update user %s: %w", clip(name), invalidf("role %q is not admin or user", *up.Role))
	}
	var display string
	if up.DisplayName != nil {
		var err error
		if display, err = cleanText("display name", *up.DisplayName); err != nil {
			return User{}, fmt.Errorf("update user %s: %w", clip(name), err)
		}
	}
	var u User
	err := s.write(ctx, "update user "+clip(name), func(q queries) error {
		var err error
		if u, err = findUser(ctx, q, name); err != nil {
			return err
		}
		wasAdmin := u.Role == RoleAdmin && !u.Disabled
		if up.DisplayName != nil {
			u.DisplayName = display
			if display == "" {
				u.DisplayName = u.Name
			}
		}
		if up.Role != nil {
			u.Role = *up.Role
		}
		if up.Disabled != nil {
			u.Disabled = *up.Disabled
		}
		if up.AllowWatch != nil {
			u.AllowWatch = *up.AllowWatch
		}
		if up.AutoAnswer != nil {
			u.AutoAnswer = *up.AutoAnswer
		}
		if wasAdmin && (u.Role != RoleAdmin || u.Disabled) {
			if err := checkOtherAdmin(ctx, q, u.Name); err != nil {
				return err
			}
		}
		if err := q.saveUser(ctx, u); err != nil {
			return err
		}
		// Other processes drop what they cached of the user's tokens
		// (role, disabled) and re-check what the user runs.
		if err := q.revoked(ctx, Revocation{User: u.Name, Sessions: u.Disabled}); err != nil || !u.Disabled {
			return err
		}
		// Disabling ends the user's sign-ins for good: enabling the
		// account again must not bring them back. Publish keys stay, for
		// the encoders they were given to, and work again on enabling.
		_, err = q.deleteSessions(ctx, u.Name)
		return err
	})
	s.cache.invalidate() // role or disabled may have changed
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// checkOtherAdmin fails with ErrLastAdmin unless an enabled admin other
// than name exists.
func checkOtherAdmin(ctx context.Context, q queries, name string) error {
	n, err := q.countOtherAdmins(ctx, name)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// SetPassword replaces an account's password and revokes its sign-in
// sessions (publish keys stay valid), so a reset locks out whoever knew the
// old one; a user changing their own password signs in again.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := checkPassword(password); err != nil {
		return fmt.Errorf("set password of %s: %w", clip(name), err)
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", clip(name), err)
	}
	err = s.write(ctx, "set password of "+clip(name), func(q queries) error {
		u, err := findUser(ctx, q, name)
		if err != nil {
			return err
		}
		if err := q.setPasswordHash(ctx, u.Name, hash); err != nil {
			return err
		}
		if _, err := q.deleteSessions(ctx, u.Name); err != nil {
			return err
		}
		return q.revoked(ctx, Revocation{User: u.Name, Sessions: true})
	})
	s.cache.invalidate()
	return err
}

// DeleteUser removes an account with its sessions and publish keys (call
// history keeps the name). It refuses (ErrLastAdmin) to delete the last
// enabled admin.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.write(ctx, "delete user "+clip(name), func(q queries) error {
		u, err := findUser(ctx, q, name)
		if err != nil {
			return err
		}
		if u.Role == RoleAdmin && !u.Disabled {
			if err := checkOtherAdmin(ctx, q, u.Name); err != nil {
				return err
			}
		}
		if err := q.deleteUser(ctx, u.Name); err != nil {
			return err
		}
		return q.revoked(ctx, Revocation{User: u.Name, Sessions: true})
	})
	s.cache.invalidate()
	return err
}

// lastSeenResolution is how stale users.last_seen_at may get before
// TouchLastSeen writes it again; it keeps a busy user from causing a write
// per request.
const lastSeenResolution = time.Minute

// TouchLastSeen records that the user is active now. It writes at most
// once a minute per user; an unknown user is not an error.
func (s *Store) TouchLastSeen(ctx context.Context, name string) error {
	if ValidateName(name) != nil {
		return nil
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	err := s.db.autocommit(ctx, func(q queries) error {
		return q.touchLastSeen(ctx, name, now, now.Add(-lastSeenResolution))
	})
	if err != nil {
		return fmt.Errorf("touch last seen of %s: %w", clip(name), err)
	}
	return nil
}
