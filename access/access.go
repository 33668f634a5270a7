// Package access applies wishcast's permission rules (auth.Authorize) to
// what is running and what is listed: it tells Authorize what a stream's
// name does not (a camera's viewer list, a call's participants, whether a
// live stream is public, whether a person refuses to be watched), ends
// the sessions whose creator may no longer act or view when keys are
// revoked, accounts change or streams stop being public, and serves the
// stream list and stream settings of the JSON API.
package access

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// Accounts is what the rules read and change in the account store.
type Accounts interface {
	GetUser(ctx context.Context, name string) (auth.User, error)
	GetToken(ctx context.Context, id string) (auth.Token, error)
	StreamPublic(ctx context.Context, name string) (bool, error)
	SetStreamPublic(ctx context.Context, name string, public bool) error
}

// Devices tells the rules who may view a camera. For a name it does not
// know it returns the zero StreamInfo and no error.
type Devices interface {
	StreamInfo(ctx context.Context, device string) (auth.StreamInfo, error)
}

// Calls knows the participants of running calls, and hears when a person
// stops letting others watch them.
type Calls interface {
	// StreamInfo returns the participants of the call of a
	// calls/{id}/{user} name (zero when there is no such call).
	StreamInfo(ctx context.Context, name string) auth.StreamInfo
	// Refused tells that user no longer lets others watch them.
	Refused(user string)
}

// Sessions are the running WebRTC sessions.
type Sessions interface {
	Sessions() []*session.Session
}

// Live lists the live streams.
type Live interface {
	Live(prefix string) []stream.Status
}

// Options are what New wires together; every field is required but Log.
type Options struct {
	Accounts Accounts
	Devices  Devices
	Calls    Calls
	Sessions Sessions
	Hub      Live
	// Exempt, if set, names session owners that Recheck leaves alone:
	// another node of a cluster pulling a stream, whose own viewers that
	// node checks.
	Exempt func(owner string) bool
	Log    *slog.Logger
}

// Rules applies the permission rules to requests and running sessions.
type Rules struct {
	accounts Accounts
	devices  Devices
	calls    Calls
	sessions Sessions
	hub      Live
	exempt   func(owner string) bool
	log      *slog.Logger
	// recheck asks Watch for a re-check now (see Changed); it holds at
	// most one request, so many changes at once cost one re-check.
	recheck chan struct{}
}

// New returns the rules over o.
func New(o Options) *Rules {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Rules{accounts: o.Accounts, devices: o.Devices, calls: o.Calls, sessions: o.Sessions, hub: o.Hub, log: o.Log,
		exempt: o.Exempt, recheck: make(chan struct{}, 1)}
}

// StreamInfo tells Authorize what the stream name does not. When the
// store fails it returns the error together with the answer that is safe
// to act on: a camera or person only admins (or that person) may view, a
// live stream or camera that is not public.
func (r *Rules) StreamInfo(ctx context.Context, name string) (auth.StreamInfo, error) {
	ns, rest, _ := strings.Cut(name, "/")
	switch ns {
	case "devices":
		info, err := r.devices.StreamInfo(ctx, rest)
		if err != nil {
			return auth.StreamInfo{Restricted: true}, err
		}
		public, err := r.accounts.StreamPublic(ctx, name)
		info.Public = public && err == nil
		return info, err
	case "calls":
		return r.calls.StreamInfo(ctx, name), nil
	case "live":
		public, err := r.accounts.StreamPublic(ctx, name)
		return auth.StreamInfo{Public: public && err == nil}, err
	case "users":
		u, err := r.accounts.GetUser(ctx, rest)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			return auth.StreamInfo{}, nil
		case err != nil:
			return auth.StreamInfo{Private: true}, err
		}
		return auth.UserStreamInfo(u), nil
	}
	return auth.StreamInfo{}, nil
}

// SafeStreamInfo is StreamInfo for a decision that must be taken now: a
// store failure is logged and the safe answer used.
func (r *Rules) SafeStreamInfo(ctx context.Context, name string) auth.StreamInfo {
	info, err := r.StreamInfo(ctx, name)
	if err != nil {
		r.log.Warn("stream permissions look-up failed; allowing only what is safe", "stream", name, "err", err)
	}
	return info
}
