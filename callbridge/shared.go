package callbridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Calls on several nodes. On one node the bridge's memory is the truth
// about calls. On a node of a cluster the truth is a store every node
// shares (Shared), which tells every node of each change: the bridge's
// map of calls is then a copy of the cluster's current calls, kept for
// reading (the hello event, who takes part in a call's stream), and each
// change goes to the store first, from the state the bridge saw, so that
// of two nodes acting on one call at once one wins. Ring timeouts and
// drop grace are deadlines in the store that every node sweeps; the
// bridge only reports which participants have a session here.

// sharedTimeout bounds one change of a call in the shared store.
const sharedTimeout = 5 * time.Second

// goneKept is how long the bridge remembers a call that ended, so that
// a late notification of an older change does not bring it back.
const goneKept = 2 * time.Minute

// Shared is the store of a cluster's calls (see SetShared).
type Shared interface {
	// OnlineElsewhere reports whether user has the app open on another
	// node; it must not block.
	OnlineElsewhere(user string) bool
	// Place records c, ringing for ringFor at most, and tells the other
	// nodes; when the caller or the callee is already in a ringing or
	// active call it records nothing and returns those calls (ok false).
	Place(ctx context.Context, c SharedCall, ringFor time.Duration) (busy []SharedCall, ok bool, err error)
	// Change replaces call c.ID by c (state, end reason, times; c's codecs
	// are added to the call's) if the call is in state from, and tells the
	// other nodes. It returns the call as stored now: c with its new
	// version (changed true), or what changed it meanwhile (changed
	// false; a zero call, ID "", if there is no such call).
	Change(ctx context.Context, from string, c SharedCall) (now SharedCall, changed bool, err error)
	// Get returns call id as stored.
	Get(ctx context.Context, id string) (SharedCall, bool, error)
}

// SharedCall is a call as a Shared store holds it.
type SharedCall struct {
	Call
	// Version counts the changes of the call: each node applies each
	// change once, and never an older one after a newer.
	Version int64
}

// sharedRef holds the Shared store (atomic.Value needs one type).
type sharedRef struct{ s Shared }

// SetShared makes the bridge keep its calls in s, a store shared by the
// nodes of a cluster; the node must hand every change it hears of to
// CallChanged, the store's calls to RepairCalls every few seconds, and
// report CallsHere to the store. Call it before serving.
func (b *Bridge) SetShared(s Shared) { b.sharedCalls.Store(sharedRef{s}) }

// cluster is the Shared store, nil on one node.
func (b *Bridge) cluster() Shared {
	r, _ := b.sharedCalls.Load().(sharedRef)
	return r.s
}

// CallsHere lists the call participants who had a session on this node
// at the last look, as "callID/user".
func (b *Bridge) CallsHere() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.here)
}

// CallsKnown counts the ringing and active calls the bridge knows (in a
// cluster: of every node).
func (b *Bridge) CallsKnown() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}

// CallChanged applies a change of a call that another node made, or that
// this node's sweep of deadlines made (own: it is recorded here).
func (b *Bridge) CallChanged(c SharedCall, own bool) {
	b.applyShared(c, own, !own)
}

// RepairCalls sets the bridge's copy of the cluster's calls right with
// all of them as the store holds them: changes whose notification was
// lost are applied, and a call the store no longer has ends here.
func (b *Bridge) RepairCalls(all []SharedCall) {
	in := map[string]bool{}
	now := time.Now()
	for _, c := range all {
		in[c.ID] = true
		b.mu.Lock()
		unknown := c.State == StateEnded && b.calls[c.ID] == nil
		if unknown {
			b.gone[c.ID] = now // ended before this node knew it: nothing to tell
		}
		b.mu.Unlock()
		if !unknown {
			b.applyShared(c, false, true)
		}
	}
	b.mu.Lock()
	var lost []Call
	for id, c := range b.calls {
		// A call placed after the store was read is not lost.
		if !in[id] && now.Sub(c.Created) > 10*time.Second {
			lost = append(lost, c.snapshot())
		}
	}
	for id, at := range b.gone {
		if now.Sub(at) > goneKept {
			delete(b.gone, id)
		}
	}
	b.mu.Unlock()
	for _, c := range lost {
		c.State, c.EndReason, c.Ended = StateEnded, EndDropped, now.UTC()
		b.log.Warn("a call the cluster no longer has ends here", "call", c.ID)
		b.applyShared(SharedCall{Call: c, Version: 1 << 62}, false, true)
	}
}

// applyShared applies c, as the store holds it after a change, to the
// bridge's copy: the participants' pages here hear of it. own says that
// this node made the change (an ended call is recorded here); async that
// the sessions of an ended call close in the background.
func (b *Bridge) applyShared(c SharedCall, own, async bool) {
	b.mu.Lock()
	if _, gone := b.gone[c.ID]; gone {
		b.mu.Unlock()
		return
	}
	cur := b.calls[c.ID]
	if cur != nil && cur.version >= c.Version {
		b.mu.Unlock()
		return
	}
	if c.State == StateEnded {
		b.gone[c.ID] = time.Now()
		if cur != nil {
			b.forgetLocked(cur)
		}
		if own {
			b.ended[c.EndReason]++
		}
		b.mu.Unlock()
		b.wrapUp(c.Call, own, async)
		return
	}
	fresh := cur == nil
	if fresh {
		cur = &call{lastLive: map[string]time.Time{}}
		b.calls[c.ID] = cur
	}
	was := cur.State
	ring := cur.ring
	cur.Call = c.Call
	cur.Streams, cur.Codecs = nil, nil
	for u, l := range c.Codecs {
		cur.setCodecs(u, l)
	}
	cur.ring, cur.version = ring, c.Version
	b.inCall[cur.Caller], b.inCall[cur.Callee] = c.ID, c.ID
	snap := cur.snapshot()
	switch {
	case c.State == StateRinging && fresh:
		b.emitLocked(cur.Callee, "call-incoming", map[string]any{"call": snap})
	case c.State == StateActive && was != StateActive:
		if cur.ring != nil {
			cur.ring.Stop()
		}
		b.emitLocked(cur.Caller, "call-accepted", map[string]any{"call": snap})
		b.emitLocked(cur.Callee, "call-accepted", map[string]any{"call": snap})
	}
	b.mu.Unlock()
}

// knownCall returns ringing or active call id as the bridge knows it, or
// in a cluster, when a notification has not come yet, as the store holds
// it (and then remembers it).
func (b *Bridge) knownCall(ctx context.Context, id string) (Call, bool, error) {
	b.mu.Lock()
	if c := b.calls[id]; c != nil {
		defer b.mu.Unlock()
		return c.snapshot(), true, nil
	}
	b.mu.Unlock()
	sh := b.cluster()
	if sh == nil {
		return Call{}, false, nil
	}
	c, found, err := sh.Get(ctx, id)
	if err != nil || !found || c.State == StateEnded {
		return Call{}, false, err
	}
	b.applyShared(c, false, false)
	return c.Call, true, nil
}

// placeShared places a call in a cluster (see Place; the callee is
// known to exist and is not the caller).
func (b *Bridge) placeShared(ctx context.Context, sh Shared, c *call, codecs []string) (Call, error) {
	caller, callee, now := c.Caller, c.Callee, c.Created
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Call{}, errClosed
	}
	if id := b.inCall[caller]; id != "" {
		c0 := b.calls[id]
		glare := c0 != nil && c0.State == StateRinging && c0.Caller == callee && c0.Callee == caller
		b.mu.Unlock()
		if glare {
			return b.acceptShared(ctx, sh, id, caller, codecs)
		}
		return Call{}, &CallError{Code: "busy", Msg: "you are already in a call; hang up first"}
	}
	online := b.online[callee] || sh.OnlineElsewhere(callee)
	if err := b.takeRatesLocked(caller, callee, now, online); err != nil {
		b.mu.Unlock()
		return Call{}, err
	}
	b.started.Add(1)
	if !online {
		b.ended[EndOffline]++
		b.mu.Unlock()
		return b.refuse(c, EndOffline)
	}
	b.mu.Unlock()

	busy, ok, err := sh.Place(ctx, SharedCall{Call: c.snapshot()}, b.cfg.RingTimeout)
	if err != nil {
		return Call{}, unavailable(err)
	}
	if !ok {
		for _, o := range busy {
			if o.Caller != caller && o.Callee != caller {
				continue
			}
			if o.State == StateRinging && o.Caller == callee && o.Callee == caller {
				b.started.Add(^uint64(0)) // not a call of its own: it answers the other
				b.applyShared(o, false, false)
				return b.acceptShared(ctx, sh, o.ID, caller, codecs)
			}
			return Call{}, &CallError{Code: "busy", Msg: "you are already in a call; hang up first"}
		}
		b.mu.Lock()
		b.ended[EndBusy]++
		b.mu.Unlock()
		return b.refuse(c, EndBusy)
	}
	c.version = 1
	id := c.ID
	b.mu.Lock()
	snap := c.snapshot()
	_, gone := b.gone[id]
	if b.calls[id] == nil && !gone { // else a later change came first
		b.calls[id] = c
		b.inCall[caller], b.inCall[callee] = id, id
		// The deadline in the store ends the call too; this timer ends it
		// on time while this node lives.
		c.ring = time.AfterFunc(b.cfg.RingTimeout, func() { b.ringExpired(id) })
		b.emitLocked(callee, "call-incoming", map[string]any{"call": snap})
	}
	b.mu.Unlock()
	b.log.Info("call placed", "call", id, "caller", caller, "callee", callee)
	return snap, nil
}

// acceptShared answers ringing call id in a cluster as user, its
// callee, whose page decodes codecs.
func (b *Bridge) acceptShared(ctx context.Context, sh Shared, id, user string, codecs []string) (Call, error) {
	for range 3 {
		c, ok, err := b.knownCall(ctx, id)
		switch {
		case err != nil:
			return Call{}, unavailable(err)
		case !ok:
			return Call{}, &CallError{Code: "not_found", Msg: "no ringing or active call " + id}
		case user != c.Caller && user != c.Callee:
			return Call{}, &CallError{Code: "forbidden", Msg: "only the two participants may see or change a call"}
		case user != c.Callee:
			return Call{}, &CallError{Code: "forbidden", Msg: "only " + c.Callee + " can accept this call"}
		case c.State != StateRinging:
			return Call{}, &CallError{Code: "conflict", Msg: "the call is already " + c.State}
		}
		next := c
		next.State, next.Answered, next.Codecs = StateActive, time.Now().UTC(), nil
		if len(codecs) > 0 {
			next.Codecs = map[string][]string{user: slices.Clone(codecs)}
		}
		now, changed, err := sh.Change(ctx, StateRinging, SharedCall{Call: next})
		if err != nil {
			return Call{}, unavailable(err)
		}
		if now.ID == "" {
			return Call{}, &CallError{Code: "not_found", Msg: "no ringing or active call " + id}
		}
		b.applyShared(now, changed, false)
		if changed {
			b.log.Info("call answered", "call", id)
			return b.snapshotOf(now), nil
		}
	}
	return Call{}, &CallError{Code: "conflict", Msg: "the call keeps changing; try again"}
}

// endShared ends call id in a cluster for the reason decide gives (see
// end): it reports whether it ended the call, and an error when the
// store could not be asked.
func (b *Bridge) endShared(ctx context.Context, sh Shared, id string, decide func(*call) (string, error)) (Call, bool, error) {
	for range 3 {
		if _, ok, err := b.knownCall(ctx, id); err != nil || !ok {
			return Call{}, false, err
		}
		b.mu.Lock()
		c := b.calls[id]
		if c == nil {
			b.mu.Unlock()
			return Call{}, false, nil
		}
		reason, err := decide(c)
		snap, from := c.snapshot(), c.State
		b.mu.Unlock()
		if err != nil {
			return Call{}, false, nil
		}
		snap.State, snap.EndReason, snap.Ended, snap.Codecs = StateEnded, reason, time.Now().UTC(), nil
		now, changed, err := sh.Change(ctx, from, SharedCall{Call: snap})
		if err != nil {
			return Call{}, false, err
		}
		if now.ID == "" {
			return Call{}, false, nil
		}
		b.applyShared(now, changed, false)
		if changed {
			return b.snapshotOf(now), true, nil
		}
	}
	return Call{}, false, nil
}

// snapshotOf is c as the API shows it.
func (b *Bridge) snapshotOf(c SharedCall) Call {
	x := &call{Call: c.Call}
	return x.snapshot()
}

// unavailable is a failure of the shared store as a caller hears it.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &CallError{Code: "unavailable", RetryAfter: 5 * time.Second,
		Msg: fmt.Sprintf("the cluster's database did not answer (%v); try again", err)}
}
