package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// Watch is who may watch the user's camera (users/{Name}).
	Watch WatchPolicy
	// Answer is whose calls the app answers at once (others ring).
	Answer AnswerPolicy
	// Chosen are the people the user chose, for WatchChosen and
	// AnswerChosen, spelled as their accounts are.
	Chosen []string
	// NoticeSeen says the user has read, once, what others can do with
	// their camera and where to change it.
	NoticeSeen bool
	// ChangePassword says the account still has the password the server
	// set up (the first admin's): the app asks for one of the user's own.
	ChangePassword bool
}

// WatchPolicy is who may watch a user's camera.
type WatchPolicy string

// Watch policies.
const (
	// WatchEveryone lets every signed-in user watch (the default).
	WatchEveryone WatchPolicy = "everyone"
	// WatchAsk lets every signed-in user watch once the user has allowed
	// it on their page, each time.
	WatchAsk WatchPolicy = "ask"
	// WatchChosen lets only the people in Chosen watch.
	WatchChosen WatchPolicy = "chosen"
	// WatchNobody lets nobody watch, admins included.
	WatchNobody WatchPolicy = "nobody"
)

// valid reports whether w is a known policy.
func (w WatchPolicy) valid() bool {
	return w == WatchEveryone || w == WatchAsk || w == WatchChosen || w == WatchNobody
}

// AnswerPolicy is whose calls the app answers at once.
type AnswerPolicy string

// Answer policies.
const (
	// AnswerEveryone answers every call at once (the default).
	AnswerEveryone AnswerPolicy = "everyone"
	// AnswerChosen answers the calls of the people in Chosen at once;
	// others ring.
	AnswerChosen AnswerPolicy = "chosen"
	// AnswerNobody lets every call ring.
	AnswerNobody AnswerPolicy = "nobody"
)

// valid reports whether a is a known policy.
func (a AnswerPolicy) valid() bool {
	return a == AnswerEveryone || a == AnswerChosen || a == AnswerNobody
}

// MaxChosen bounds a user's list of chosen people.
const MaxChosen = 500

// AllowsWatch reports whether the user lets others watch at all.
func (u User) AllowsWatch() bool { return u.Watch != WatchNobody }

// MayWatch reports whether viewer may watch the user's camera without
// being refused; with WatchAsk the user is asked each time still.
func (u User) MayWatch(viewer string) bool {
	switch u.Watch {
	case WatchNobody:
		return false
	case WatchChosen:
		return slices.Contains(u.Chosen, viewer)
	}
	return true
}

// AnswersAtOnce reports whether the app answers caller's calls at once.
func (u User) AnswersAtOnce(caller string) bool {
	switch u.Answer {
	case AnswerNobody:
		return false
	case AnswerChosen:
		return slices.Contains(u.Chosen, caller)
	}
	return true
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
	Watch       *WatchPolicy
	Answer      *AnswerPolicy
	// Chosen replaces the list of chosen people: names of existing
	// accounts in any case, stored as the accounts spell them.
	Chosen     *[]string
	NoticeSeen *bool
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
		Watch: WatchEveryone, Answer: AnswerEveryone}
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
	if up.Watch != nil && !up.Watch.valid() {
		return User{}, fmt.Errorf("update user %s: %w", clip(name), invalidf("watch %q is not everyone, ask, chosen or nobody", *up.Watch))
	}
	if up.Answer != nil && !up.Answer.valid() {
		return User{}, fmt.Errorf("update user %s: %w", clip(name), invalidf("answer %q is not everyone, chosen or nobody", *up.Answer))
	}
	if up.Chosen != nil && len(*up.Chosen) > MaxChosen {
		return User{}, fmt.Errorf("update user %s: %w", clip(name), invalidf("at most %d chosen people", MaxChosen))
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
		if up.Watch != nil {
			u.Watch = *up.Watch
		}
		if up.Answer != nil {
			u.Answer = *up.Answer
		}
		if up.NoticeSeen != nil {
			u.NoticeSeen = *up.NoticeSeen
		}
		if up.Chosen != nil {
			if u.Chosen, err = canonicalNames(ctx, q, u.Name, *up.Chosen); err != nil {
				return err
			}
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

// canonicalNames spells each of names as its account does, without
// duplicates or owner; a name without an account is ErrInvalid.
func canonicalNames(ctx context.Context, q queries, owner string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		u, err := findUser(ctx, q, n)
		if errors.Is(err, ErrNotFound) {
			return nil, invalidf("there is no user %s to choose", clip(n))
		}
		if err != nil {
			return nil, err
		}
		if u.Name != owner && !slices.Contains(out, u.Name) {
			out = append(out, u.Name)
		}
	}
	slices.Sort(out)
	return out, nil
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

// prefColumns are the columns of a user's choices, in the order of
// prefValues and scanPrefs; both dialects store Chosen as a JSON list.
const prefColumns = "watch_policy, answer_policy, chosen, notice_seen, password_change"

// prefValues are u's choices as prefColumns stores them.
func (u User) prefValues() []any {
	chosen, _ := json.Marshal(u.Chosen)
	if u.Chosen == nil {
		chosen = []byte("[]")
	}
	return []any{string(u.Watch), string(u.Answer), string(chosen), u.NoticeSeen, u.ChangePassword}
}

// prefScan holds prefColumns while a row is scanned into u.
type prefScan struct {
	u      *User
	chosen string
}

// dest returns the scan destinations of prefColumns.
func (p *prefScan) dest() []any {
	return []any{&p.u.Watch, &p.u.Answer, &p.chosen, &p.u.NoticeSeen, &p.u.ChangePassword}
}

// done decodes the scanned list of chosen people.
func (p *prefScan) done() error {
	p.u.Chosen = nil
	if p.chosen == "" || p.chosen == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(p.chosen), &p.u.Chosen); err != nil {
		return fmt.Errorf("user %s: chosen people: %w", p.u.Name, err)
	}
	return nil
}
