package cluster

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// msgHeld tells every node that a node now holds a stream of a call:
// a viewer waiting for it on another node pulls it at once rather than
// at the next look at the directory.
const msgHeld = "held"

// callStreams is the cluster's source of calls/{id}/{user}. A
// participant's viewer usually comes before the other participant's page
// publishes (the call still rings), and the page publishes to whatever
// node the balancer gives it: the viewer's node waits until some node
// holds the stream (told at once by msgHeld, or found at the next look
// at the directory), and pulls it from there.
type callStreams struct {
	n     *Node
	inner stream.Source // the local bridge: is there such a call?
	grace time.Duration

	// mu guards running.
	mu      sync.Mutex
	running map[string]*follower
}

// follower waits for one call stream to be held somewhere.
type follower struct {
	held   chan struct{} // a msgHeld for the stream came (buffered)
	cancel context.CancelFunc
	done   chan struct{}
}

// WrapCalls returns the cluster's source of call streams (calls/) around
// inner, the local source that knows the calls.
func (n *Node) WrapCalls(inner stream.Source, grace time.Duration) stream.Source {
	if g, ok := inner.(stream.GraceSource); ok {
		grace = g.Grace()
	}
	return &callStreams{n: n, inner: inner, grace: grace, running: map[string]*follower{}}
}

// Grace is the inner source's grace.
func (s *callStreams) Grace() time.Duration { return s.grace }

// Start checks with the inner source that the call exists and then
// follows the directory until some node holds name: another node's
// stream is pulled from there; this node's needs nothing more.
func (s *callStreams) Start(ctx context.Context, name string) error {
	if _, fromPeer := FromPeer(ctx); fromPeer || s.inner == nil {
		return errNotHere
	}
	if err := s.inner.Start(ctx, name); err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(context.Background())
	f := &follower{held: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	// Hear msgHeld before the first look, so that none falls between.
	s.n.calls.wait(name, f.held)
	s.mu.Lock()
	s.running[name] = f
	s.mu.Unlock()
	go s.follow(fctx, name, f)
	return nil
}

// follow waits until a node holds name; if another, it pulls the stream
// from there until stopped.
func (s *callStreams) follow(ctx context.Context, name string, f *follower) {
	defer close(f.done)
	defer s.n.calls.unwait(name, f.held)
	t := time.NewTicker(s.n.cfg.Renew)
	defer t.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, s.n.cfg.Renew)
		h, ok, err := s.n.dir.Lookup(lctx, name)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && ok && h.Node == s.n.cfg.NodeID:
			<-ctx.Done() // published here: the hub has it
			return
		case err == nil && ok:
			s.n.log.Info("pulling a call's stream from another node", "stream", name, "peer", s.n.describe(h))
			r := s.n.startRelay(name, h, nil)
			<-ctx.Done()
			r.stop()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-f.held:
		case <-t.C:
		}
	}
}

// Stop ends the wait or the pull.
func (s *callStreams) Stop(name string) {
	s.mu.Lock()
	f := s.running[name]
	delete(s.running, name)
	s.mu.Unlock()
	if f == nil {
		return
	}
	f.cancel()
	<-f.done
	s.inner.Stop(name)
}

// wait has msgHeld for name signal ch.
func (c *callState) wait(name string, ch chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiters == nil {
		c.waiters = map[string][]chan struct{}{}
	}
	c.waiters[name] = append(c.waiters[name], ch)
}

// unwait undoes wait.
func (c *callState) unwait(name string, ch chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.waiters[name]
	for i, x := range l {
		if x == ch {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(c.waiters, name)
		return
	}
	c.waiters[name] = l
}

// heardHeld wakes the followers of a stream another node now holds.
func (n *Node) heardHeld(name string) {
	n.calls.mu.Lock()
	defer n.calls.mu.Unlock()
	for _, ch := range n.calls.waiters[name] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// announceHeld tells every node that this node now holds name, if it is
// a call's stream (in the background: the publisher need not wait).
func (n *Node) announceHeld(name string) {
	if !strings.HasPrefix(name, "calls/") || n.dir.halted.Load() {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Lease)
		defer cancel()
		if err := n.notify(ctx, message{To: "*", Kind: msgHeld, Stream: name}); err != nil {
			n.log.Debug("a call's stream not announced (viewers elsewhere find it in the directory)", "stream", name, "err", err)
		}
	}()
}

var _ stream.GraceSource = (*callStreams)(nil)
