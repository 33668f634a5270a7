package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Bootstrap says whether Open created the first admin account.
type Bootstrap struct {
	// Created is true when the store had no user and Open added one.
	Created bool
	// Name is the new admin's name (Config.AdminName).
	Name string
	// Password is the generated password when Config.AdminPassword was
	// empty, so that cmd can print the sign-in URL next to it; empty when
	// the configured password was used or nothing was created.
	Password string
}

// Bootstrap reports what Open did to a store that had no user.
func (s *Store) Bootstrap() Bootstrap { return s.boot }

// bootstrap creates the first admin when the store has no user: with the
// configured password, or a generated one (26 characters of base32, 130
// bits) that is logged once at WARN. There is no default password.
func (s *Store) bootstrap(ctx context.Context) error {
	n, err := s.read().countUsers(ctx)
	if err != nil {
		return fmt.Errorf("first admin: count users: %w", err)
	}
	if n > 0 {
		return nil // the usual case: the settings below no longer matter
	}
	name := s.cfg.AdminName
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("first admin: ADMIN_NAME: %w", err)
	}
	password, generated := s.cfg.AdminPassword, false
	if password == "" {
		password, generated = rand.Text(), true
	}
	if err := checkPassword(password); err != nil {
		return fmt.Errorf("first admin: ADMIN_PASSWORD: %w", err)
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	created := false
	err = s.write(ctx, "first admin", func(q queries) error {
		// Count again in the transaction: another process may have
		// bootstrapped since.
		created = false
		n, err := q.countUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		u := User{Name: name, DisplayName: name, Role: RoleAdmin, Created: s.now().UTC().Truncate(time.Millisecond),
			Watch: WatchEveryone, Answer: AnswerEveryone, ChangePassword: generated}
		created = true
		return insertUser(ctx, q, u, hash)
	})
	if errors.Is(err, ErrExists) {
		return nil // another process created it at the same moment
	}
	if err != nil || !created {
		return err
	}
	s.boot = Bootstrap{Created: true, Name: name}
	if generated {
		s.boot.Password = password
		s.log.Warn("created the first admin account with a generated password, shown only this once: sign in and change it",
			"user", name, "password", password)
	} else {
		s.log.Warn("created the first admin account with the configured ADMIN_PASSWORD: sign in and change it, then remove the setting",
			"user", name)
	}
	return nil
}
