package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// source is the cluster's on-demand source of one name prefix.
type source struct {
	n      *Node
	inner  stream.Source
	camera bool
	grace  time.Duration

	// mu guards the following field.
	mu      sync.Mutex
	running map[string]running
}

// running is what Start set going for one name.
type running struct {
	relay   *relay
	release func() // the camera's claim; nil otherwise
}

// Grace is the inner source's grace, or the hub's.
func (s *source) Grace() time.Duration { return s.grace }

// Start pulls name from the node that holds it, or starts it here.
func (s *source) Start(ctx context.Context, name string) error {
	_, fromPeer := FromPeer(ctx)
	if !fromPeer {
		h, ok, err := s.n.dir.Lookup(ctx, name)
		if err != nil {
			return stream.Unavailable(err)
		}
		if ok && h.Node != s.n.cfg.NodeID {
			s.relayFrom(name, h)
			return nil
		}
	}
	if s.inner == nil && fromPeer {
		return errNotHere
	}
	if s.inner == nil {
		return errNoPublisher
	}
	var release func()
	if s.camera {
		rel, err := s.n.dir.Claim(ctx, name, KindCamera)
		var held *HeldError
		switch {
		case errors.As(err, &held) && !fromPeer && held.Holder.URL != "":
			// Another node dialled it first.
			s.relayFrom(name, held.Holder)
			return nil
		case errors.As(err, &held):
			return fmt.Errorf("the camera is held by node %s", held.Holder.Node)
		case err != nil:
			return err
		}
		release = rel
	}
	if err := s.inner.Start(ctx, name); err != nil {
		if release != nil {
			release()
		}
		return err
	}
	s.mu.Lock()
	s.running[name] = running{release: release}
	s.mu.Unlock()
	return nil
}

// relayFrom starts pulling name from h.
func (s *source) relayFrom(name string, h Holder) {
	s.n.log.Info("pulling the stream from another node", "stream", name, "peer", s.n.describe(h))
	var takeOver func(*relay) bool
	if s.camera {
		takeOver = func(r *relay) bool { return s.takeOver(name, r) }
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running[name] = running{relay: s.n.startRelay(name, h, takeOver)}
}

// takeOver dials a camera whose holder died on this node, for the
// viewers its relay r still has; it reports whether the camera is this
// node's now (or r was stopped meanwhile).
func (s *source) takeOver(name string, r *relay) bool {
	ctx, cancel := context.WithTimeout(r.ctx, s.n.setupTimeout)
	defer cancel()
	release, err := s.n.dir.Claim(ctx, name, KindCamera)
	if err != nil {
		return false
	}
	if err := s.inner.Start(ctx, name); err != nil {
		release()
		return false
	}
	s.n.log.Info("dialling the camera here: the node that held it is gone", "stream", name)
	s.mu.Lock()
	cur, ok := s.running[name]
	if ok && cur.relay == r {
		s.running[name] = running{release: release}
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	// Stopped meanwhile: undo.
	s.inner.Stop(name)
	release()
	return true
}

// Stop ends what Start set going for name.
func (s *source) Stop(name string) {
	s.mu.Lock()
	r, ok := s.running[name]
	delete(s.running, name)
	s.mu.Unlock()
	if !ok {
		return
	}
	if r.relay != nil {
		r.relay.stop()
		return
	}
	s.inner.Stop(name)
	if r.release != nil {
		r.release()
	}
}

// DescribedTracks passes on what the inner source knows of name's tracks
// without starting it (a camera's last description), so a viewer who
// cannot play them is refused without dialling the camera or pulling it
// from another node.
func (s *source) DescribedTracks(name string) ([]stream.TrackStatus, bool) {
	if d, ok := s.inner.(stream.TrackDescriber); ok {
		return d.DescribedTracks(name)
	}
	return nil, false
}

var (
	_ stream.GraceSource    = (*source)(nil)
	_ stream.TrackDescriber = (*source)(nil)
)
