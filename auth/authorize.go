package auth

import (
	"fmt"
	"slices"
)

// StreamInfo is what Authorize needs to know about a stream that the name
// does not say. The zero value means: an unknown call, a live stream that
// is not public, a device every signed-in user may view.
type StreamInfo struct {
	// Caller and Callee are the participants of the call a calls/{id}/{user}
	// stream belongs to, from the calls feature; empty when there is no such
	// call (then nobody but an admin may use its streams).
	Caller, Callee string
	// Public lets anyone, signed in or not, view a live/ stream, or a
	// devices/ stream that is not Restricted.
	Public bool
	// Restricted limits viewing a devices/ stream to admins and Viewers
	// (see Device.StreamInfo); otherwise every signed-in user may view it.
	Restricted bool
	// Viewers are the users who may view a restricted device, spelled as
	// their accounts are (the store saves them so).
	Viewers []string
	// Private means the user of a users/{user} stream refuses to be
	// watched: nobody else may view it, admins included.
	Private bool
	// OnlyChosen means the user of a users/{user} stream lets only the
	// people in Chosen watch, admins included.
	OnlyChosen bool
	Chosen     []string
}

// UserStreamInfo is what Authorize needs of u's stream users/{u}.
func UserStreamInfo(u User) StreamInfo {
	return StreamInfo{Private: !u.AllowsWatch(), OnlyChosen: u.Watch == WatchChosen, Chosen: u.Chosen}
}

// participant reports whether user is one of the call's two participants.
func (info StreamInfo) participant(user string) bool {
	return user != "" && info.Caller != info.Callee && (user == info.Caller || user == info.Callee)
}

// Authorize decides whether p (nil: anonymous) may do action on stream.
// It returns nil, ErrUnauthenticated (nobody signed in and signing in could
// help: 401), ErrForbidden (403), or ErrInvalid for a name outside the
// namespaces below (400). The rules:
//
//	stream              publish                          view
//	users/{u}           u                                signed-in users, unless u refuses (Private)
//	                                                     or chose whom (OnlyChosen: Chosen only)
//	calls/{id}/{u}      u, if a participant of call id   the other participant of call id
//	devices/{d}         nobody (the server pulls RTSP)   signed-in users, or Viewers if Restricted;
//	                                                     anyone if Public and not Restricted
//	live/{name}         a publish key for it             signed-in users; anyone if Public
//
// Admins signed in with a session may do everything, except publish
// devices/ streams (no one does, admins included, since the server's own
// RTSP puller does not go through Authorize), view a user who refuses to
// be watched, and view or publish the streams of a call they do not take
// part in: a call is private to its two participants.
//
// User names compare exactly, byte for byte, wherever they appear (a
// stream name, a call's participants, a camera's viewers): the principal
// carries the account's stored spelling, and the hub tells users/Bob from
// users/bob. Names are unique without regard to ASCII case, so no other
// user can hold a spelling that differs only in case.
//
// A publish key may do exactly
// its scope and only where its owner, as a plain user, could: a key never
// acts as its owner beyond its scope, and an admin's key is no admin. A
// public live stream or camera may be viewed by anyone, keys of any scope
// included.
func Authorize(p *Principal, action Action, stream string, info StreamInfo) error {
	if !action.valid() {
		return fmt.Errorf("authorize: %w", invalidf("action %q is not publish or view", action))
	}
	sn, err := splitStream(stream)
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	ns := sn.seg[0]
	switch {
	case ns == nsDevices && action == ActionPublish:
		return deny(action, stream, "devices/ streams are published only by the server")
	case ns == nsLive && action == ActionView && info.Public:
		return nil
	case ns == nsDevices && action == ActionView && info.Public && !info.Restricted:
		return nil
	case p == nil:
		return fmt.Errorf("%s %s: %w", action, stream, ErrUnauthenticated)
	case ns == nsUsers && action == ActionView && info.Private && p.User != sn.seg[1]:
		return deny(action, stream, sn.seg[1]+" does not allow being watched")
	case ns == nsUsers && action == ActionView && info.OnlyChosen && p.User != sn.seg[1] && !slices.Contains(info.Chosen, p.User):
		return deny(action, stream, sn.seg[1]+" lets only people they chose watch them")
	case p.Kind == PrincipalKey:
		if p.Scope == nil || !p.Scope.Allows(action, stream) {
			return deny(action, stream, "outside this key's scope")
		}
	case p.Kind != PrincipalSession:
		return deny(action, stream, "unknown kind of principal")
	case p.IsAdmin() && ns != nsCalls:
		return nil
	}
	return userRule(p, action, stream, &sn, info)
}

// userRule applies the namespace rules to a non-admin user, or to a key
// (already inside its scope) on behalf of its owner.
func userRule(p *Principal, action Action, stream string, sn *streamName, info StreamInfo) error {
	user := p.User
	switch sn.seg[0] {
	case nsUsers:
		if action == ActionPublish && user != sn.seg[1] {
			return deny(action, stream, "only "+sn.seg[1]+" publishes it")
		}
	case nsCalls:
		owner := sn.seg[2]
		if action == ActionPublish && (user != owner || !info.participant(user)) {
			return deny(action, stream, "only "+owner+", as a participant of this call, publishes it")
		}
		if action == ActionView && (user == owner || !info.participant(user) || !info.participant(owner)) {
			return deny(action, stream, "only the other participant of this call views it")
		}
	case nsDevices: // viewing: publishing was refused above
		if info.Restricted && !slices.Contains(info.Viewers, user) {
			return deny(action, stream, "this device is restricted to some users")
		}
	case nsLive:
		if action == ActionPublish && p.Kind != PrincipalKey {
			return deny(action, stream, "publishing live/ streams needs a publish key")
		}
	}
	return nil
}

// deny returns ErrForbidden with the reason.
func deny(action Action, stream, why string) error {
	return fmt.Errorf("%s %s: %w: %s", action, stream, ErrForbidden, why)
}

// CanCreateToken decides whether p may create a publish key for owner with
// scope: an admin signed in with a session may create any; a signed-in
// user only for themselves and exactly their own stream users/{self}
// (either action); publish keys create nothing.
func CanCreateToken(p *Principal, owner string, scope Scope) error {
	switch {
	case p == nil:
		return fmt.Errorf("create key: %w", ErrUnauthenticated)
	case p.Kind != PrincipalSession:
		return fmt.Errorf("create key: %w: publish keys cannot create keys", ErrForbidden)
	case p.IsAdmin():
		return nil
	case owner != p.User:
		return fmt.Errorf("create key: %w: only admins create keys for other users", ErrForbidden)
	case scope.Stream != nsUsers+"/"+p.User:
		return fmt.Errorf("create key: %w: you may create keys only for users/%s", ErrForbidden, p.User)
	}
	return nil
}
