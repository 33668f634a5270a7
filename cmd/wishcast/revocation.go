package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/session"
)

// watchRevocations ends, every interval, the WebRTC sessions whose
// creator may no longer act: a publish key revoked or expired, a user
// disabled or deleted. Revocations from any process on the store (the
// CLI included) take effect within one interval.
func (s *server) watchRevocations(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		verdict := map[string]bool{} // owner → may continue
		for _, sess := range s.sessions.Sessions() {
			if sess.Owner == "" {
				continue
			}
			ok, seen := verdict[sess.Owner]
			if !seen {
				ok = s.ownerValid(ctx, sess.Owner)
				verdict[sess.Owner] = ok
			}
			if !ok {
				sess.Log.Info("ending session: its key was revoked or its user can no longer sign in", "owner", sess.Owner)
				go sess.Close(session.ReasonRevoked)
			}
		}
	}
}

// ownerValid reports whether a session owner (a user, or "user:keyID") is
// still allowed. Store errors other than "not found" keep the session.
func (s *server) ownerValid(ctx context.Context, owner string) bool {
	user, keyID, isKey := strings.Cut(owner, ":")
	if isKey {
		if _, err := s.accounts.GetToken(ctx, keyID); errors.Is(err, auth.ErrNotFound) {
			return false
		}
	}
	u, err := s.accounts.GetUser(ctx, user)
	if errors.Is(err, auth.ErrNotFound) {
		return false
	}
	return err != nil || !u.Disabled
}
