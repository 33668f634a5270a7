package main

import (
	"context"
	"time"

	"github.com/wishcast/wishcast/callbridge"
	"github.com/wishcast/wishcast/cluster"
)

// shareCalls keeps the bridge's calls in the cluster's PostgreSQL: the
// bridge changes them there, hears the other nodes' changes and the
// deadlines swept, and reports who has a session here.
func (s *server) shareCalls(n *cluster.Node) {
	grace := s.cfg.Calls.DropGrace
	s.bridge.SetShared(sharedCalls{n: n, grace: grace})
	n.SetCallHooks(cluster.CallHooks{
		Changed: func(c cluster.CallRow, own bool) { s.bridge.CallChanged(fromRow(c), own) },
		Repair: func(all []cluster.CallRow) {
			out := make([]callbridge.SharedCall, 0, len(all))
			for _, c := range all {
				out = append(out, fromRow(c))
			}
			s.bridge.RepairCalls(out)
		},
		Present:    s.bridge.CallsHere,
		Known:      s.bridge.CallsKnown,
		DropGrace:  grace,
		Unanswered: callbridge.EndTimeout,
		Dropped:    callbridge.EndDropped,
	})
}

// sharedCalls is the bridge's view of the cluster's calls.
type sharedCalls struct {
	n     *cluster.Node
	grace time.Duration
}

// OnlineElsewhere implements callbridge.Shared.
func (c sharedCalls) OnlineElsewhere(user string) bool { return c.n.IsOnlineElsewhere(user) }

// Place implements callbridge.Shared.
func (c sharedCalls) Place(ctx context.Context, call callbridge.SharedCall, ringFor time.Duration) ([]callbridge.SharedCall, bool, error) {
	rows, ok, err := c.n.PlaceCall(ctx, toRow(call), ringFor)
	out := make([]callbridge.SharedCall, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, ok, err
}

// Change implements callbridge.Shared.
func (c sharedCalls) Change(ctx context.Context, from string, call callbridge.SharedCall) (callbridge.SharedCall, bool, error) {
	r, changed, err := c.n.ChangeCall(ctx, from, toRow(call), c.grace)
	return fromRow(r), changed, err
}

// Get implements callbridge.Shared.
func (c sharedCalls) Get(ctx context.Context, id string) (callbridge.SharedCall, bool, error) {
	r, ok, err := c.n.Call(ctx, id)
	return fromRow(r), ok, err
}

// toRow is a call as the cluster stores it.
func toRow(c callbridge.SharedCall) cluster.CallRow {
	return cluster.CallRow{ID: c.ID, Caller: c.Caller, Callee: c.Callee, State: c.State, EndReason: c.EndReason,
		Created: c.Created, Answered: c.Answered, Ended: c.Ended, Codecs: c.Codecs, Version: c.Version}
}

// fromRow is a stored call as the bridge knows it.
func fromRow(r cluster.CallRow) callbridge.SharedCall {
	return callbridge.SharedCall{Version: r.Version, Call: callbridge.Call{ID: r.ID, Caller: r.Caller, Callee: r.Callee,
		State: r.State, EndReason: r.EndReason, Created: r.Created, Answered: r.Answered, Ended: r.Ended, Codecs: r.Codecs}}
}

var _ callbridge.Shared = sharedCalls{}
