package callbridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/stream"
)

// Call states.
const (
	StateRinging = "ringing"
	StateActive  = "active"
	StateEnded   = "ended"
)

// Reasons a call ends.
const (
	EndHangup   = "hangup"   // a participant hung up an answered call
	EndCanceled = "canceled" // the caller hung up before an answer
	EndDeclined = "declined" // the callee declined
	EndTimeout  = "timeout"  // nobody answered in time
	EndBusy     = "busy"     // the callee was in another call
	EndOffline  = "offline"  // the callee was not online
	EndDropped  = "dropped"  // a participant's stream was gone too long
	EndShutdown = "server_shutdown"
)

// Call is a call as the API and events show it.
type Call struct {
	ID        string    `json:"id"`
	Caller    string    `json:"caller"`
	Callee    string    `json:"callee"`
	State     string    `json:"state"`
	EndReason string    `json:"end_reason"`
	Created   time.Time `json:"created"`
	Answered  time.Time `json:"answered,omitzero"`
	Ended     time.Time `json:"ended,omitzero"`
	// Streams maps each participant to the stream they publish.
	Streams map[string]string `json:"streams"`
	// Codecs maps each participant whose page said so to the video
	// codecs it decodes, best first: the other page sends one of them.
	Codecs map[string][]string `json:"codecs,omitempty"`
}

// call is a ringing or active call.
type call struct {
	Call
	ring     *time.Timer
	lastLive map[string]time.Time // participant → when a session of theirs in the call was last seen
	setUp    bool                 // both streams were live once: OnSetup was told
	version  int64                // in a cluster: the shared store's version of the call
}

// snapshot is a copy safe to hand out.
func (c *call) snapshot() Call {
	out := c.Call
	out.Streams = map[string]string{c.Caller: c.stream(c.Caller), c.Callee: c.stream(c.Callee)}
	if len(c.Codecs) > 0 {
		out.Codecs = make(map[string][]string, len(c.Codecs))
		for u, l := range c.Codecs {
			out.Codecs[u] = slices.Clone(l)
		}
	}
	return out
}

// stream is the stream participant u publishes.
func (c *call) stream(u string) string { return callsPrefix + c.ID + "/" + u }

// peer is the other participant.
func (c *call) peer(u string) string {
	if u == c.Caller {
		return c.Callee
	}
	return c.Caller
}

// newCallID returns an unguessable call id that is a stream-name segment.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "c" + hex.EncodeToString(b[:])
}

// CallError is why a call could not be placed or changed; Code is a word
// for programs ("busy", "offline", "not_found", "forbidden", "conflict").
type CallError struct {
	Code string
	Msg  string
	// RetryAfter, when positive, says when trying again can succeed.
	RetryAfter time.Duration
}

// Error implements error.
func (e *CallError) Error() string { return e.Msg }

// Place starts a call from caller to callee: it rings on the callee's
// pages (call-incoming). A callee who is offline or already in a call is
// refused (*CallError with code offline or busy), and the attempt is kept
// in the call history. If the callee is ringing the caller at that very
// moment, Place answers that call instead and returns it, active. codecs
// are the video codecs the caller's page decodes, best first (nil when it
// did not say): the call's events pass them to the callee's page.
func (b *Bridge) Place(ctx context.Context, caller, callee string, codecs []string) (Call, error) {
	u, err := b.store.GetUser(ctx, callee)
	switch {
	case errors.Is(err, auth.ErrNotFound), err == nil && u.Disabled:
		return Call{}, &CallError{Code: "not_found", Msg: fmt.Sprintf("there is no user %q to call", callee)}
	case err != nil:
		return Call{}, fmt.Errorf("look up the callee: %w", err)
	}
	callee = u.Name
	if strings.EqualFold(caller, callee) {
		return Call{}, &CallError{Code: "forbidden", Msg: "you cannot call yourself"}
	}
	now := time.Now().UTC()
	c := &call{Call: Call{ID: newCallID(), Caller: caller, Callee: callee, State: StateRinging, Created: now},
		lastLive: map[string]time.Time{}}
	c.setCodecs(caller, codecs)
	if sh := b.cluster(); sh != nil {
		return b.placeShared(ctx, sh, c, codecs)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Call{}, errClosed
	}
	if id := b.inCall[caller]; id != "" {
		defer b.mu.Unlock()
		if c0 := b.calls[id]; c0 != nil && c0.State == StateRinging && c0.Caller == callee && c0.Callee == caller {
			// Both called each other at once: this answers the other call.
			c0.setCodecs(caller, codecs)
			return b.acceptLocked(c0), nil
		}
		return Call{}, &CallError{Code: "busy", Msg: "you are already in a call; hang up first"}
	}
	if err := b.takeRatesLocked(caller, callee, now, b.online[callee]); err != nil {
		b.mu.Unlock()
		return Call{}, err
	}
	b.started.Add(1)
	refuse := ""
	switch {
	case b.inCall[callee] != "":
		refuse = EndBusy
	case !b.online[callee]:
		refuse = EndOffline
	}
	if refuse != "" {
		b.ended[refuse]++
		b.mu.Unlock()
		return b.refuse(c, refuse)
	}
	b.calls[c.ID] = c
	b.inCall[caller], b.inCall[callee] = c.ID, c.ID
	id := c.ID
	c.ring = time.AfterFunc(b.cfg.RingTimeout, func() { b.ringExpired(id) })
	snap := c.snapshot()
	b.emitLocked(callee, "call-incoming", map[string]any{"call": snap})
	b.mu.Unlock()
	b.log.Info("call placed", "call", id, "caller", caller, "callee", callee)
	return snap, nil
}

// takeRatesLocked counts a call caller places to callee against the
// rate limits, and refuses it past them; online says whether callee is
// online (a call to them would ring). b.mu must be held.
func (b *Bridge) takeRatesLocked(caller, callee string, now time.Time, online bool) error {
	if wait, ok := b.placed.take(caller, now); !ok {
		return &CallError{Code: "rate_limited", RetryAfter: wait,
			Msg: fmt.Sprintf("you placed too many calls in a short time (at most %d a minute, setting CALLS_PER_MINUTE); wait a moment", b.cfg.CallsPerMinute)}
	}
	if b.inCall[callee] == "" && online { // it would ring
		if wait, ok := b.rung.take(callee, now); !ok {
			return &CallError{Code: "rate_limited", RetryAfter: wait,
				Msg: fmt.Sprintf("%s has been called too often in a short time (at most %d calls ring a person a minute, setting RINGS_PER_MINUTE); wait a moment", callee, b.cfg.RingsPerMinute)}
		}
	}
	return nil
}

// refuse ends call c before it rang, for reason (busy or offline): the
// history keeps the attempt.
func (b *Bridge) refuse(c *call, reason string) (Call, error) {
	c.State, c.EndReason, c.Ended = StateEnded, reason, c.Created
	b.record(c.Call)
	if reason == EndBusy {
		return c.snapshot(), &CallError{Code: EndBusy, Msg: c.Callee + " is busy in another call"}
	}
	return c.snapshot(), &CallError{Code: EndOffline, Msg: c.Callee + " is offline: they need wishcast open in a browser to be called"}
}

// ringExpired ends a call still ringing.
func (b *Bridge) ringExpired(id string) {
	b.end(id, func(c *call) (string, error) {
		if c.State != StateRinging {
			return "", errNotNow
		}
		return EndTimeout, nil
	})
}

// errNotNow is what an end decision returns to leave the call alone.
var errNotNow = errors.New("the call changed meanwhile")

// always ends a call for reason, whatever its state.
func always(reason string) func(*call) (string, error) {
	return func(*call) (string, error) { return reason, nil }
}

// participantCall returns the ringing or active call id as seen by user,
// or a *CallError: not_found if there is none, forbidden if user does not
// take part. b.mu must be held.
func (b *Bridge) participantCall(id, user string, admin bool) (*call, error) {
	c := b.calls[id]
	if c == nil {
		return nil, &CallError{Code: "not_found", Msg: "no ringing or active call " + id}
	}
	if user != c.Caller && user != c.Callee && !admin {
		return nil, &CallError{Code: "forbidden", Msg: "only the two participants may see or change a call"}
	}
	return c, nil
}

// Accept answers a ringing call as its callee, whose page decodes codecs
// (as for Place).
func (b *Bridge) Accept(ctx context.Context, id, user string, codecs []string) (Call, error) {
	if sh := b.cluster(); sh != nil {
		return b.acceptShared(ctx, sh, id, user, codecs)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.participantCall(id, user, false)
	if err != nil {
		return Call{}, err
	}
	if user != c.Callee {
		return Call{}, &CallError{Code: "forbidden", Msg: "only " + c.Callee + " can accept this call"}
	}
	if c.State != StateRinging {
		return Call{}, &CallError{Code: "conflict", Msg: "the call is already " + c.State}
	}
	c.setCodecs(user, codecs)
	return b.acceptLocked(c), nil
}

// setCodecs records the video codecs u's page decodes (nothing for none).
func (c *call) setCodecs(u string, codecs []string) {
	if len(codecs) == 0 {
		return
	}
	if c.Codecs == nil {
		c.Codecs = map[string][]string{}
	}
	c.Codecs[u] = slices.Clone(codecs)
}

// acceptLocked answers ringing call c. b.mu must be held.
func (b *Bridge) acceptLocked(c *call) Call {
	c.ring.Stop()
	c.State, c.Answered = StateActive, time.Now().UTC()
	snap := c.snapshot()
	b.emitLocked(c.Caller, "call-accepted", map[string]any{"call": snap})
	b.emitLocked(c.Callee, "call-accepted", map[string]any{"call": snap})
	b.log.Info("call answered", "call", c.ID)
	return snap
}

// Decline refuses a ringing call as its callee.
func (b *Bridge) Decline(ctx context.Context, id, user string) (Call, error) {
	return b.endAs(ctx, id, user, false, func(c *call) (string, error) {
		if user != c.Callee {
			return "", &CallError{Code: "forbidden", Msg: "only " + c.Callee + " can decline this call"}
		}
		if c.State != StateRinging {
			return "", &CallError{Code: "conflict", Msg: "the call is already " + c.State + "; hang up instead"}
		}
		return EndDeclined, nil
	})
}

// Hangup ends a call as one of its participants (or an admin).
func (b *Bridge) Hangup(ctx context.Context, id, user string, admin bool) (Call, error) {
	return b.endAs(ctx, id, user, admin, func(c *call) (string, error) {
		switch {
		case c.State != StateRinging:
			return EndHangup, nil
		case user == c.Callee:
			return EndDeclined, nil
		}
		return EndCanceled, nil
	})
}

// endAs ends call id for user (a participant, or an admin) with the
// reason decide gives, decided under the same lock that ends the call.
func (b *Bridge) endAs(ctx context.Context, id, user string, admin bool, decide func(*call) (string, error)) (Call, error) {
	var refused error
	ended, ok, err := b.endWith(ctx, id, func(c *call) (string, error) {
		if user != c.Caller && user != c.Callee && !admin {
			refused = &CallError{Code: "forbidden", Msg: "only the two participants may see or change a call"}
			return "", refused
		}
		reason, err := decide(c)
		refused = err
		return reason, err
	})
	switch {
	case refused != nil:
		return Call{}, refused
	case err != nil:
		return Call{}, unavailable(err)
	case !ok:
		return Call{}, &CallError{Code: "not_found", Msg: "no ringing or active call " + id}
	}
	return ended, nil
}

// Get returns a ringing or active call for a participant (or an admin).
func (b *Bridge) Get(ctx context.Context, id, user string, admin bool) (Call, error) {
	if _, _, err := b.knownCall(ctx, id); err != nil {
		return Call{}, unavailable(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.participantCall(id, user, admin)
	if err != nil {
		return Call{}, err
	}
	return c.snapshot(), nil
}

// Current returns user's ringing or active calls.
func (b *Bridge) Current(user string) []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []Call{}
	if id := b.inCall[user]; id != "" {
		out = append(out, b.calls[id].snapshot())
	}
	return out
}

// end ends call id for the reason decide gives (decide runs under the
// bridge's lock, on the call as it is then; an error leaves the call as
// it is): its four sessions are closed, both participants get call-ended,
// the history keeps it. It returns the ended call and whether it ended.
func (b *Bridge) end(id string, decide func(*call) (string, error)) (Call, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	c, ok, err := b.endWith(ctx, id, decide)
	if err != nil {
		b.log.Warn("call not ended: the cluster's database did not answer (its deadline ends it)", "call", id, "err", err)
	}
	return c, ok
}

// endWith is end, in a cluster through the shared store (the error says
// that the store did not answer).
func (b *Bridge) endWith(ctx context.Context, id string, decide func(*call) (string, error)) (Call, bool, error) {
	if sh := b.cluster(); sh != nil {
		return b.endShared(ctx, sh, id, decide)
	}
	b.mu.Lock()
	c := b.calls[id]
	if c == nil {
		b.mu.Unlock()
		return Call{}, false, nil
	}
	reason, err := decide(c)
	if err != nil {
		b.mu.Unlock()
		return Call{}, false, nil
	}
	b.forgetLocked(c)
	c.State, c.EndReason, c.Ended = StateEnded, reason, time.Now().UTC()
	b.ended[reason]++
	snap := c.snapshot()
	b.mu.Unlock()
	b.wrapUp(c.Call, true, false)
	return snap, true, nil
}

// forgetLocked drops c from the current calls. b.mu must be held.
func (b *Bridge) forgetLocked(c *call) {
	delete(b.calls, c.ID)
	for _, u := range []string{c.Caller, c.Callee} {
		if b.inCall[u] == c.ID {
			delete(b.inCall, u)
		}
	}
	if c.ring != nil {
		c.ring.Stop()
	}
}

// wrapUp finishes ended call c: the history keeps it (if own: this node
// ended it), both participants get call-ended, and its sessions here
// close (in the background if async).
func (b *Bridge) wrapUp(c Call, own, async bool) {
	// The history first, so that whoever hears call-ended finds it there:
	// in a cluster the node that ended the call and every node with a
	// participant's page write it (the first one keeps it), since a
	// page hears call-ended from its own node, possibly before the
	// ending node got to write it.
	b.mu.Lock()
	here := b.online[c.Caller] || b.online[c.Callee]
	b.mu.Unlock()
	if own || here {
		b.record(c)
	}
	snap := (&call{Call: c}).snapshot()
	b.mu.Lock()
	b.emitLocked(c.Caller, "call-ended", map[string]any{"call": snap})
	b.emitLocked(c.Callee, "call-ended", map[string]any{"call": snap})
	b.mu.Unlock()
	closeSessions := func() {
		prefix := callsPrefix + c.ID + "/"
		n := b.sessions.CloseWhere(func(_, name, _ string) bool { return strings.HasPrefix(name, prefix) }, reasonCallEnded)
		for _, u := range []string{c.Caller, c.Callee} {
			b.hub.SourceFailed(snap.Streams[u], stream.Ended(fmt.Errorf("the call ended (%s)", c.EndReason)))
		}
		b.log.Info("call ended", "call", c.ID, "reason", c.EndReason, "sessions", n)
	}
	if async {
		go closeSessions()
		return
	}
	closeSessions()
}

// record keeps an ended call in the history.
func (b *Bridge) record(c Call) {
	err := b.store.AddCallRecord(context.Background(), auth.CallRecord{
		ID: c.ID, Caller: c.Caller, Callee: c.Callee, Started: c.Created, Ended: c.Ended, EndReason: c.EndReason,
	})
	if err != nil && !errors.Is(err, auth.ErrExists) { // another node kept it
		b.log.Warn("call not kept in the history", "call", c.ID, "err", err)
	}
}

// checkCalls ends answered calls in which a participant has had no
// session for longer than DropGrace (their page closed or lost its
// network), and reports set-up times. present says who has a session
// ("id/user", publishing or only viewing: a participant without a camera
// counts) in which call.
func (b *Bridge) checkCalls(now time.Time, present map[string]bool) {
	clustered := b.cluster() != nil
	b.mu.Lock()
	if clustered {
		// The cluster's store keeps the drop deadlines; it hears who is here.
		b.here = b.here[:0]
		for k := range present {
			b.here = append(b.here, k)
		}
	}
	var dropped []string
	var setups []time.Duration
	for id, c := range b.calls {
		if c.State != StateActive {
			continue
		}
		if !c.setUp && b.hub.IsLive(c.stream(c.Caller)) && b.hub.IsLive(c.stream(c.Callee)) {
			c.setUp = true
			setups = append(setups, now.Sub(c.Created))
		}
		for _, u := range []string{c.Caller, c.Callee} {
			if clustered {
				break
			}
			if present[id+"/"+u] {
				c.lastLive[u] = now
				continue
			}
			since := c.Answered
			if t := c.lastLive[u]; t.After(since) {
				since = t
			}
			if now.Sub(since) > b.cfg.DropGrace {
				dropped = append(dropped, id)
				break
			}
		}
	}
	b.mu.Unlock()
	if b.onSetup != nil {
		for _, d := range setups {
			b.onSetup(d)
		}
	}
	for _, id := range dropped {
		b.end(id, func(c *call) (string, error) {
			if c.State != StateActive {
				return "", errNotNow
			}
			return EndDropped, nil
		})
	}
}
