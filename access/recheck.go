package access

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/session"
)

// Watch re-checks every running session every interval (see Recheck),
// and at once when told of a change (see Changed), until ctx ends, so
// that revocations made by any process on the store (the CLI, another
// node) take effect within one interval.
func (r *Rules) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.recheck:
		}
		r.Recheck(ctx, func(string) bool { return true })
	}
}

// Changed asks Watch to re-check every running session now rather than at
// the next interval: another process revoked something. It never blocks;
// changes that come while a re-check is pending share it.
func (r *Rules) Changed() {
	select {
	case r.recheck <- struct{}{}:
	default:
	}
}

// UserChanged applies an account change to running sessions at once: a
// disabled user's sessions end; a user who stopped letting others watch
// them is no longer watched, nor asked to publish for waiting viewers.
func (r *Rules) UserChanged(ctx context.Context, u auth.User) {
	switch {
	case u.Disabled:
		r.Recheck(ctx, func(string) bool { return true })
	case !u.AllowsWatch():
		r.calls.Refused(u.Name)
		r.Recheck(ctx, func(st string) bool { return st == "users/"+u.Name })
	case u.Watch == auth.WatchChosen:
		// Viewers no longer chosen go; the others stay.
		r.Recheck(ctx, func(st string) bool { return st == "users/"+u.Name })
	}
}

// owner is what the store says of a session's creator.
type owner struct {
	p    *auth.Principal // nil for anonymous
	gone bool            // a key revoked or expired, a user disabled or deleted
	err  error           // the store failed: decide nothing
}

// lookupOwner rebuilds the principal behind a session owner ("" for
// anonymous, "user", or "user:keyID" for a publish key).
func (r *Rules) lookupOwner(ctx context.Context, name string) owner {
	if name == "" {
		return owner{}
	}
	user, keyID, isKey := strings.Cut(name, ":")
	u, err := r.accounts.GetUser(ctx, user)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return owner{gone: true}
	case err != nil:
		return owner{err: err}
	case u.Disabled:
		return owner{gone: true}
	case !isKey:
		return owner{p: &auth.Principal{User: u.Name, Role: u.Role, Kind: auth.PrincipalSession}}
	}
	tok, err := r.accounts.GetToken(ctx, keyID)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return owner{gone: true}
	case err != nil:
		return owner{err: err}
	}
	scope := tok.Scope
	return owner{p: &auth.Principal{User: u.Name, Kind: auth.PrincipalKey, Scope: &scope, TokenID: keyID}}
}

// Recheck ends the sessions on the streams match selects whose creator
// may no longer act (a publish key revoked or expired, a user disabled or
// deleted), and the viewers who may no longer view their stream (a user
// who stopped letting others watch, a live stream no longer public, a
// camera now restricted). Each owner and stream is looked up once; a
// store error keeps the sessions it concerns. Calls end their own
// sessions (call_ended): their viewers are not re-checked here. It
// returns how many sessions it ended; they close in the background.
func (r *Rules) Recheck(ctx context.Context, match func(stream string) bool) int {
	owners := map[string]owner{}
	infos := map[string]auth.StreamInfo{}
	ended := 0
	for _, sess := range r.sessions.Sessions() {
		if !match(sess.Stream) || (r.exempt != nil && r.exempt(sess.Owner)) {
			continue
		}
		o, seen := owners[sess.Owner]
		if !seen {
			o = r.lookupOwner(ctx, sess.Owner)
			owners[sess.Owner] = o
		}
		switch {
		case o.gone:
			sess.Log.Info("ending session: its key was revoked or its user can no longer sign in", "owner", sess.Owner)
			go sess.Close(session.ReasonRevoked)
			ended++
			continue
		case o.err != nil, sess.Protocol != "whep", strings.HasPrefix(sess.Stream, "calls/"):
			continue
		}
		info, seen := infos[sess.Stream]
		if !seen {
			var err error
			if info, err = r.StreamInfo(ctx, sess.Stream); err != nil {
				continue // not on a store error
			}
			infos[sess.Stream] = info
		}
		if err := auth.Authorize(o.p, auth.ActionView, sess.Stream, info); errors.Is(err, auth.ErrForbidden) || errors.Is(err, auth.ErrUnauthenticated) {
			sess.Log.Info("ending viewer: no longer allowed to view the stream", "owner", sess.Owner)
			go sess.Close(session.ReasonRevoked)
			ended++
		}
	}
	return ended
}
