package callbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/stream"
)

// watchSource is the hub's on-demand source of users/{u}: it asks u's
// open pages to publish (publish-request) and, when nobody watches any
// more, to stop (publish-stop), ending the publisher session itself too.
type watchSource struct{ b *Bridge }

// Grace implements stream.GraceSource: a person's camera goes off soon
// after the last viewer left, sooner than a camera is hung up on.
func (s watchSource) Grace() time.Duration { return s.b.cfg.WatchGrace }

// Start implements stream.Source.
func (s watchSource) Start(ctx context.Context, name string) error {
	b := s.b
	user, ok := strings.CutPrefix(name, usersPrefix)
	if !ok || user == "" || strings.Contains(user, "/") {
		return fmt.Errorf("%s is not a user's stream (users/{name})", name)
	}
	u, err := b.store.GetUser(ctx, user)
	switch {
	case errors.Is(err, auth.ErrNotFound), err == nil && u.Disabled:
		return fmt.Errorf("there is no user %s", user)
	case err != nil:
		b.log.Error("cannot look up a user someone wants to watch", "user", user, "err", err)
		return stream.Unavailable(errors.New("the account database did not answer; try again"))
	}
	if u.Name != user {
		return fmt.Errorf("there is no user %s (did you mean users/%s?)", user, u.Name)
	}
	if !u.AllowsWatch() {
		return fmt.Errorf("%s does not allow being watched", user)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.online[user] {
		return fmt.Errorf("%s is offline: their camera can be watched while they have wishcast open", user)
	}
	r := b.requested[user]
	if r == nil {
		r = &watchRequest{}
		b.requested[user] = r
	}
	// The hub may start the stream again before it stops the previous
	// start: count starts, so that the stale Stop changes nothing.
	r.starts++
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
	}
	gen := r.gen
	r.timer = time.AfterFunc(b.answer, func() { s.noAnswer(name, user, r, gen) })
	// The page sends a codec the viewer who asked decodes, when it said.
	r.codecs = stream.Decoders(ctx)
	req := map[string]any{"stream": name}
	if len(r.codecs) > 0 {
		req["codecs"] = r.codecs
	}
	b.emitLocked(user, "publish-request", req)
	b.log.Info("asking a user to publish", "user", user, "codecs", r.codecs)
	return nil
}

// watchRequest is a users/{u} stream the hub started, until it stops it.
type watchRequest struct {
	starts int         // Start calls not yet matched by Stop
	gen    int         // which Start the timer belongs to
	timer  *time.Timer // fails the viewers if the page does not publish
	codecs []string    // the video codecs the viewer decodes, best first
}

// noAnswer fails the viewers waiting for a user who did not publish, if
// the request is still the one the timer was set for.
func (s watchSource) noAnswer(name, user string, r *watchRequest, gen int) {
	b := s.b
	b.mu.Lock()
	current := b.requested[user] == r && r.gen == gen
	if current {
		r.timer = nil
	}
	b.mu.Unlock()
	if current && !b.hub.IsLive(name) {
		b.hub.SourceFailed(name, stream.Ended(fmt.Errorf("%s did not answer: their page did not start the camera", user)))
	}
}

// Stop implements stream.Source.
func (s watchSource) Stop(name string) {
	b := s.b
	user := strings.TrimPrefix(name, usersPrefix)
	b.mu.Lock()
	r := b.requested[user]
	if r != nil {
		if r.starts--; r.starts > 0 {
			b.mu.Unlock()
			return // a newer start is under way
		}
		if r.timer != nil {
			r.timer.Stop()
		}
		delete(b.requested, user)
	}
	b.cameraOffLocked(user)
	b.emitLocked(user, "publish-stop", map[string]any{"stream": name, "reason": "no viewers"})
	b.mu.Unlock()
	n := b.sessions.CloseWhere(func(protocol, st, _ string) bool { return protocol == "whip" && st == name }, reasonNoViewers)
	b.log.Info("user's camera no longer watched", "user", user, "sessions", n)
}

var _ stream.GraceSource = watchSource{}

// Refused tells the bridge that user no longer lets others watch them:
// viewers waiting for users/{user} fail at once, the pending request is
// forgotten (a page opening now is not asked to publish), and the hub
// then stops the stream, which ends the user's publisher session.
func (b *Bridge) Refused(user string) {
	name := usersPrefix + user
	b.mu.Lock()
	if r := b.requested[user]; r != nil && r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r := b.requested[user]
	if r != nil {
		r.gen++ // whatever timer is left is stale
	}
	b.mu.Unlock()
	b.hub.SourceFailed(name, stream.Ended(fmt.Errorf("%s does not allow being watched", user)))
}

// callSource is the hub's on-demand source of calls/{id}/{u}: there is
// nothing to start (the participant's page publishes by itself), but a
// viewer of the peer's stream may wait for it as for any on-demand stream,
// as long as the call rings or is active.
type callSource struct{ b *Bridge }

// Start implements stream.Source.
func (s callSource) Start(ctx context.Context, name string) error {
	rest := strings.TrimPrefix(name, callsPrefix)
	id, user, _ := strings.Cut(rest, "/")
	c, ok, err := s.b.knownCall(ctx, id)
	if err != nil {
		return stream.Unavailable(fmt.Errorf("look up call %s: %w", id, err))
	}
	if !ok {
		return errors.New("there is no ringing or active call " + id)
	}
	if user != c.Caller && user != c.Callee {
		return fmt.Errorf("%s does not take part in call %s", user, id)
	}
	return nil
}

// Stop implements stream.Source.
func (callSource) Stop(string) {}
