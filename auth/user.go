package auth

import (
	"context"
	"database/sql"
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

// userColumns are the columns scanUser reads, in order.
const userColumns = "name, display_name, role, disabled, created_at, last_seen_at, allow_watch, auto_answer"

// scanUser reads one row of userColumns.
func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, seen int64
	if err := row.Scan(&u.Name, &u.DisplayName, &u.Role, &u.Disabled, &created, &seen, &u.AllowWatch, &u.AutoAnswer); err != nil {
		return User{}, err
	}
	u.Created, u.LastSeen = fromMillis(created), fromMillis(seen)
	return u, nil
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
	err = s.write(ctx, "create user "+nu.Name, func(tx *sql.Tx) error { return insertUser(ctx, tx, u, hash) })
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// insertUser adds a user row inside tx, failing with ErrExists if the name
// is taken.
func insertUser(ctx context.Context, tx *sql.Tx, u User, hash string) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE name = ?", u.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("user %s: %w", u.Name, ErrExists)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO users (name, display_name, role, password_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, u.Name, u.DisplayName, string(u.Role), hash, u.Disabled, millis(u.Created))
	return err
}

// GetUser returns the account called name (any ASCII case), or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", clip(name), ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", clip(name), err)
	}
	return u, nil
}

// ListUsers returns every account, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
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
	err := s.write(ctx, "update user "+clip(name), func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
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
			if err := checkOtherAdmin(ctx, tx, u.Name); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE users SET display_name = ?, role = ?, disabled = ?, allow_watch = ?, auto_answer = ? WHERE name = ?",
			u.DisplayName, string(u.Role), u.Disabled, u.AllowWatch, u.AutoAnswer, u.Name)
		if err != nil || !u.Disabled {
			return err
		}
		// Disabling ends the user's sign-ins for good: enabling the
		// account again must not bring them back. Publish keys stay, for
		// the encoders they were given to, and work again on enabling.
		_, err = tx.ExecContext(ctx, "DELETE FROM tokens WHERE owner = ? AND kind = 'session'", u.Name)
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
func checkOtherAdmin(ctx context.Context, tx *sql.Tx, name string) error {
	var n int
	err := tx.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name <> ?", name).Scan(&n)
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
	err = s.write(ctx, "set password of "+clip(name), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE name = ?", hash, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM tokens WHERE owner = ? AND kind = 'session'", name)
		return err
	})
	s.cache.invalidate()
	return err
}

// DeleteUser removes an account with its sessions and publish keys (call
// history keeps the name). It refuses (ErrLastAdmin) to delete the last
// enabled admin.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.write(ctx, "delete user "+clip(name), func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if u.Role == RoleAdmin && !u.Disabled {
			if err := checkOtherAdmin(ctx, tx, u.Name); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM users WHERE name = ?", u.Name)
		return err
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
	now := s.now()
	_, err := s.wdb.ExecContext(ctx, "UPDATE users SET last_seen_at = ? WHERE name = ? AND last_seen_at < ?",
		millis(now), name, millis(now.Add(-lastSeenResolution)))
	if err != nil {
		return fmt.Errorf("touch last seen of %s: %w", clip(name), err)
	}
	return nil
}
