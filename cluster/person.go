package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// person is the cluster's source of users/{name}: a person's camera,
// which their page publishes when asked. The page may be open on another
// node than the viewer's, and publish to a third: the viewer's node asks
// every node where the person has the app open (LISTEN/NOTIFY), then
// follows the directory until some node holds the stream, and pulls it
// from there.
type person struct {
	n     *Node
	inner stream.Source // the local bridge: asks pages open here
	grace time.Duration

	// mu guards the following fields.
	mu      sync.Mutex
	running map[string]*watch
	remote  map[string]int // asks from other nodes by "node stream", started here
	// queue holds the work on other nodes' asks, done in order by one
	// goroutine while working.
	queue   []func()
	working bool
}

// watch is one Start of a person's stream on this node.
type watch struct {
	asked  []string // other nodes asked to have the page publish
	local  bool     // the local bridge was started too
	cancel context.CancelFunc
	done   chan struct{}
}

// WrapPerson returns the cluster's source of people's cameras (users/)
// around inner, the local source that asks pages open on this node.
func (n *Node) WrapPerson(inner stream.Source, grace time.Duration) stream.Source {
	if g, ok := inner.(stream.GraceSource); ok {
		grace = g.Grace()
	}
	p := &person{n: n, inner: inner, grace: grace, running: map[string]*watch{}, remote: map[string]int{}}
	n.personMu.Lock()
	n.person = p
	n.personMu.Unlock()
	return p
}

// Grace is the inner source's grace.
func (p *person) Grace() time.Duration { return p.grace }

// Start asks the person's pages, wherever they are, to publish.
func (p *person) Start(ctx context.Context, name string) error {
	if _, fromPeer := FromPeer(ctx); fromPeer || p.inner == nil {
		return errNotHere
	}
	user := strings.TrimPrefix(name, "users/")
	localErr := p.inner.Start(ctx, name)
	nodes, err := p.n.dir.PresenceOf(ctx, user)
	if err != nil {
		p.n.log.Warn("presence look-up failed: only pages open here are asked", "user", user, "err", err)
	}
	var asked []string
	for _, node := range nodes {
		if err := p.n.notify(ctx, message{To: node, Kind: msgWatch, Stream: name}); err != nil {
			p.n.log.Warn("ask another node to have a page publish", "peer", node, "err", err)
			continue
		}
		asked = append(asked, node)
	}
	if localErr != nil && len(asked) == 0 {
		return localErr
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &watch{asked: asked, local: localErr == nil, cancel: cancel, done: make(chan struct{})}
	go p.follow(wctx, name, w)
	p.mu.Lock()
	p.running[name] = w
	p.mu.Unlock()
	return nil
}

// follow waits until some node holds name; if another, it pulls the
// stream from there until stopped.
func (p *person) follow(ctx context.Context, name string, w *watch) {
	defer close(w.done)
	t := time.NewTicker(p.n.cfg.Renew / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, p.n.cfg.Renew)
		h, ok, err := p.n.dir.Lookup(lctx, name)
		cancel()
		if err != nil || !ok {
			continue
		}
		if h.Node == p.n.cfg.NodeID {
			<-ctx.Done() // published here: the hub has it
			return
		}
		p.n.log.Info("pulling a person's camera from another node", "stream", name, "peer", p.n.describe(h))
		r := p.n.startRelay(name, h, nil)
		<-ctx.Done()
		r.stop()
		return
	}
}

// Stop ends the pull and withdraws the asks.
func (p *person) Stop(name string) {
	p.mu.Lock()
	w := p.running[name]
	delete(p.running, name)
	p.mu.Unlock()
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
	if w.local {
		p.inner.Stop(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, node := range w.asked {
		if err := p.n.notify(ctx, message{To: node, Kind: msgUnwatch, Stream: name}); err != nil {
			p.n.log.Warn("withdraw an ask to another node", "peer", node, "err", err)
		}
	}
}

// handle carries out another node's ask: the local bridge asks the
// person's pages open here to publish, or to stop once no ask is left.
func (p *person) handle(m message) {
	if !strings.HasPrefix(m.Stream, "users/") {
		return
	}
	key := m.From + " " + m.Stream
	switch m.Kind {
	case msgWatch:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.inner.Start(ctx, m.Stream); err != nil {
			p.n.log.Info("another node's viewer waits for a person not here", "stream", m.Stream, "from", m.From, "err", err)
			return
		}
		p.mu.Lock()
		p.remote[key]++
		p.mu.Unlock()
	case msgUnwatch:
		p.mu.Lock()
		ok := p.remote[key] > 0
		if ok {
			if p.remote[key]--; p.remote[key] == 0 {
				delete(p.remote, key)
			}
		}
		p.mu.Unlock()
		if ok {
			p.inner.Stop(m.Stream)
		}
	}
}

// enqueue has f done after the work queued before it: an ask and its
// withdrawal are carried out in the order they came.
func (p *person) enqueue(f func()) {
	p.mu.Lock()
	p.queue = append(p.queue, f)
	start := !p.working
	p.working = true
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

// work does the queued work until the queue is empty.
func (p *person) work() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.working = false
			p.mu.Unlock()
			return
		}
		f := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		f()
	}
}

// dropGone withdraws the asks of the nodes not in live.
func (p *person) dropGone(live map[string]bool) {
	var stop []string
	p.mu.Lock()
	for key, count := range p.remote {
		node, name, _ := strings.Cut(key, " ")
		if live[node] {
			continue
		}
		delete(p.remote, key)
		for range count {
			stop = append(stop, name)
		}
	}
	p.mu.Unlock()
	for _, name := range stop {
		p.n.log.Info("withdrawing the ask of a node that is gone", "stream", name)
		p.inner.Stop(name)
	}
}

// errNoPerson is what a message for people's cameras meets before the
// source exists.
var errNoPerson = errors.New("no source of people's cameras")

var _ stream.GraceSource = (*person)(nil)
