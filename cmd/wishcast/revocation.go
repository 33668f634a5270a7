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
		s.enforceViewRules(ctx, func(string) bool { return true })
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

// principalOf rebuilds the principal behind a session owner ("" for
// anonymous, "user", or "user:keyID" for a publish key); ok is false when
// it can no longer act (deleted, disabled, revoked) or the store failed.
func (s *server) principalOf(ctx context.Context, owner string) (p *auth.Principal, ok bool) {
	if owner == "" {
		return nil, true
	}
	user, keyID, isKey := strings.Cut(owner, ":")
	u, err := s.accounts.GetUser(ctx, user)
	if err != nil || u.Disabled {
		return nil, false
	}
	if !isKey {
		return &auth.Principal{User: u.Name, Role: u.Role, Kind: auth.PrincipalSession}, true
	}
	tok, err := s.accounts.GetToken(ctx, keyID)
	if err != nil {
		return nil, false
	}
	scope := tok.Scope
	return &auth.Principal{User: u.Name, Kind: auth.PrincipalKey, Scope: &scope, TokenID: keyID}, true
}

// enforceViewRules ends the viewer sessions of the streams match selects
// whose owner may no longer view them: a user who stopped allowing others
// to watch, a live stream no longer public, a camera now restricted.
// Store errors keep the session.
func (s *server) enforceViewRules(ctx context.Context, match func(stream string) bool) {
	type who struct {
		p  *auth.Principal
		ok bool
	}
	owners := map[string]who{} // each owner and stream looked up once a pass
	infos := map[string]auth.StreamInfo{}
	for _, sess := range s.sessions.Sessions() {
		// Calls end their own sessions (call_ended); a call being torn down
		// must not look like a revocation.
		if sess.Protocol != "whep" || strings.HasPrefix(sess.Stream, "calls/") || !match(sess.Stream) {
			continue
		}
		o, seen := owners[sess.Owner]
		if !seen {
			o.p, o.ok = s.principalOf(ctx, sess.Owner)
			owners[sess.Owner] = o
		}
		if !o.ok {
			continue // watchRevocations deals with owners who cannot act
		}
		info, seen := infos[sess.Stream]
		if !seen {
			var err error
			if info, err = s.lookupStreamInfo(ctx, sess.Stream); err != nil {
				continue // not on a store error
			}
			infos[sess.Stream] = info
		}
		if err := auth.Authorize(o.p, auth.ActionView, sess.Stream, info); errors.Is(err, auth.ErrForbidden) || errors.Is(err, auth.ErrUnauthenticated) {
			sess.Log.Info("ending viewer: no longer allowed to view the stream", "owner", sess.Owner)
			go sess.Close(session.ReasonRevoked)
		}
	}
}
