package cluster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"
)

// AlwaysOn is what a node needs to keep the always-on cameras: which
// they are, and how to dial one here and hang up on it.
type AlwaysOn struct {
	// List names the streams of the enabled always-on cameras
	// ("devices/x").
	List func(ctx context.Context) ([]string, error)
	// Start dials a camera on this node and keeps it until a Stop of
	// its own (Starts and Stops are counted, as the hub's are).
	Start func(ctx context.Context, name string) error
	// Stop matches one Start.
	Stop func(name string)
}

// alwaysOnListEvery is how many renewals pass between two readings of
// the camera list (a change made on another node takes that long; one
// made on this node as well).
const alwaysOnListEvery = 10

// keeper holds always-on cameras for one node (see KeepAlwaysOn). Only
// its goroutine touches it.
type keeper struct {
	n      *Node
	a      AlwaysOn
	names  map[string]func() // always-on cameras → stop watching their holder
	held   map[string]func() // those dialled here → release the claim
	warned map[string]bool   // cameras whose failure to start was logged
}

// KeepAlwaysOn keeps each always-on camera dialled on exactly one node
// of the cluster until ctx ends, then hangs up on the ones held here. A
// camera no node holds is claimed in the stream directory by the first
// node to see it free, which dials it and holds it, viewers or not;
// viewers on the other nodes pull it from there, as they do an on-demand
// camera. When the holder dies, its lease runs out and the next node to
// look (every renewal, one directory query for all of them, shared with
// the relays) dials it. A node that finds another holding a camera it
// dials (its own lease lapsed meanwhile) hangs up, so that the camera
// never stays dialled twice.
func (n *Node) KeepAlwaysOn(ctx context.Context, a AlwaysOn) {
	k := &keeper{n: n, a: a, names: map[string]func(){}, held: map[string]func(){}, warned: map[string]bool{}}
	defer k.dropAll()
	t := time.NewTicker(n.cfg.Renew)
	defer t.Stop()
	for i := 0; ; i++ {
		if i%alwaysOnListEvery == 0 {
			k.list(ctx)
		}
		k.hold(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// list reads the always-on cameras again: new ones are followed in the
// directory, those no longer always-on (or removed, or disabled) are
// hung up on if held here. A failed read keeps the cameras as they are.
func (k *keeper) list(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, k.n.cfg.Lease)
	defer cancel()
	names, err := k.a.List(lctx)
	if err != nil {
		if ctx.Err() == nil {
			k.n.log.Warn("always-on cameras not read; keeping them as they were", "err", err)
		}
		return
	}
	for _, name := range names {
		if k.names[name] == nil {
			k.names[name] = k.n.dir.watchHolder(name)
		}
	}
	for name, unwatch := range k.names {
		if !slices.Contains(names, name) {
			k.drop(name, "no longer an always-on camera")
			unwatch()
			delete(k.names, name)
		}
	}
}

// hold claims and dials the always-on cameras no node holds, and hangs
// up on those another node holds.
func (k *keeper) hold(ctx context.Context) {
	self := k.n.cfg.NodeID
	for _, name := range slices.Sorted(maps.Keys(k.names)) {
		holder, known := k.n.dir.holderOf(name, 0)
		elsewhere := known && holder != "" && holder != self
		switch _, mine := k.held[name]; {
		case mine && elsewhere:
			k.drop(name, "another node holds it")
		case mine, elsewhere:
		default:
			k.claim(ctx, name)
		}
	}
}

// claim claims name and dials it here.
func (k *keeper) claim(ctx context.Context, name string) {
	cctx, cancel := context.WithTimeout(ctx, k.n.setupTimeout)
	defer cancel()
	release, err := k.n.dir.Claim(cctx, name, KindCamera)
	var heldElsewhere *HeldError
	switch {
	case errors.As(err, &heldElsewhere):
		return
	case err != nil:
		if ctx.Err() == nil {
			k.n.log.Warn("always-on camera not claimed", "stream", name, "err", err)
		}
		return
	}
	if err := k.a.Start(cctx, name); err != nil {
		release()
		if !k.warned[name] && ctx.Err() == nil {
			k.n.log.Warn("always-on camera not started", "stream", name, "err", err)
			k.warned[name] = true
		}
		return
	}
	delete(k.warned, name)
	k.held[name] = release
	k.n.log.Info("holding an always-on camera", "stream", name)
}

// drop hangs up on name if it is held here, and releases its claim.
func (k *keeper) drop(name, why string) {
	release, ok := k.held[name]
	if !ok {
		return
	}
	delete(k.held, name)
	k.a.Stop(name)
	release()
	k.n.log.Info("no longer holding an always-on camera", "stream", name, "why", why)
}

// dropAll hangs up on every camera held here and stops following them.
func (k *keeper) dropAll() {
	for name, unwatch := range k.names {
		k.drop(name, "the node is stopping")
		unwatch()
	}
}
