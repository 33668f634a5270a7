package auth

import "strings"

// Action is what a principal wants to do with a stream.
type Action string

// Actions.
const (
	// ActionPublish sends media to a stream (WHIP).
	ActionPublish Action = "publish"
	// ActionView receives a stream's media (WHEP).
	ActionView Action = "view"
)

// valid reports whether a is a known action.
func (a Action) valid() bool { return a == ActionPublish || a == ActionView }

// PrincipalKind says how a principal authenticated.
type PrincipalKind string

// Principal kinds.
const (
	// PrincipalSession is a user signed in with a password (a "wcs_" token).
	PrincipalSession PrincipalKind = "session"
	// PrincipalKey is a publish key (a "wck_" token): it may do exactly its
	// Scope and nothing else, whoever its owner is.
	PrincipalKey PrincipalKind = "key"
)

// Principal is who is asking: the result of Authenticate. A nil *Principal
// means anonymous.
type Principal struct {
	// User is the signed-in user, or the owner of the publish key.
	User string
	// Role is the signed-in user's role. It is empty for a publish key, which
	// never carries its owner's role: an admin's key is no admin.
	Role Role
	// Kind is how the principal authenticated.
	Kind PrincipalKind
	// Scope is the publish key's scope; nil for a session.
	Scope *Scope
	// TokenID is the id of the session or key (for listing and revoking, and
	// Subject); it is not the secret token.
	TokenID string
}

// IsAdmin reports whether p is an admin signed in with a session (publish
// keys are never admins).
func (p *Principal) IsAdmin() bool {
	return p != nil && p.Kind == PrincipalSession && p.Role == RoleAdmin
}

// Subject is the owner to record on things p creates, such as WebRTC
// sessions, for CanManageSession: the user name for a signed-in user,
// "user:tokenID" for a publish key (':' cannot occur in names), and "" for
// anonymous.
func (p *Principal) Subject() string {
	switch {
	case p == nil:
		return ""
	case p.Kind == PrincipalKey:
		return p.User + ":" + p.TokenID
	}
	return p.User
}

// CanManageSession reports whether p may PATCH or DELETE a WebRTC session
// whose owner (the creator's Subject) is owner:
//   - an admin signed in with a session may manage every session;
//   - a signed-in user may manage their own sessions and those made with
//     their publish keys;
//   - a publish key may manage only the sessions it made itself;
//   - a session made anonymously (owner "", e.g. viewing a public live
//     stream) only by an admin here: its creator had no credential, so
//     SessionAccess lets the client that made it (the same address, or
//     IPv6 /64) manage it as well.
func CanManageSession(p *Principal, owner string) bool {
	switch {
	case p == nil:
		return false
	case p.Kind == PrincipalKey:
		return owner == p.Subject()
	case p.IsAdmin():
		return true
	}
	return owner == p.User || strings.HasPrefix(owner, p.User+":")
}
