package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wishcast/wishcast/stream"
)

// Options are what a Node needs.
type Options struct {
	Config Config
	// DatabaseURL is the PostgreSQL the nodes share.
	DatabaseURL string
	// API makes the peer connections of relays: the node's codecs and
	// ICE addresses, on sockets other than the ICE port that serves
	// sessions (see session.API.Outbound).
	API *webrtc.API
	// Hub is the node's stream hub; relays publish to it.
	Hub *stream.Hub
	// SetupTimeout bounds setting up a relay (the on-demand timeout).
	SetupTimeout time.Duration
	// Registerer takes the cluster metrics; nil: none.
	Registerer prometheus.Registerer
	// RelaysOut counts the sessions other nodes pull from this one now.
	RelaysOut func() int
	// OnlineUsers lists the users with the app open on this node.
	OnlineUsers func() []string
	// Watching lists who watches whom on this node (person → viewers).
	Watching func() map[string][]string
	Log      *slog.Logger
}

// Node is this node's part in a cluster.
type Node struct {
	cfg          Config
	dir          *Directory
	api          *webrtc.API
	hub          *stream.Hub
	client       *http.Client
	sign         signer
	obs          *Metrics
	setupTimeout time.Duration
	log          *slog.Logger
	stop         context.CancelFunc
	done         chan struct{}
	refusals     warnLimit // warnings about signatures this node refused
	refused      warnLimit // warnings about this node's signatures refused

	people people
	calls  callState

	// elseMu guards the following fields.
	elseMu    sync.Mutex
	elsewhere map[string]map[string]bool // user → other nodes with their page
	// watchedElsewhere is who watches whom on other nodes: person →
	// node → viewers.
	watchedElsewhere map[string]map[string][]string
	presenceHook     func(user string, online bool)

	// personMu guards person.
	personMu sync.Mutex
	person   *person
}

// New joins the cluster: it opens the stream directory and starts
// renewing the node's leases.
func New(ctx context.Context, o Options) (*Node, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = 10 * time.Second
	}
	n := &Node{
		cfg: o.Config, api: o.API, hub: o.Hub, log: o.Log.With("node", o.Config.NodeID), setupTimeout: o.SetupTimeout,
		sign: signer{node: o.Config.NodeID, secret: []byte(o.Config.Secret), seen: newNonces()},
		// Node-to-node requests never follow redirects: a node answers
		// for itself.
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	if o.Registerer != nil {
		n.obs = NewMetrics(o.Registerer, o.Config.NodeID, o.RelaysOut)
	}
	dir, err := OpenDirectory(ctx, o.Config, o.DatabaseURL, n.obs, o.Log)
	if err != nil {
		return nil, err
	}
	n.dir = dir
	dir.online = o.OnlineUsers
	n.elsewhere = map[string]map[string]bool{}
	n.watchedElsewhere = map[string]map[string][]string{}
	dir.presenceChanged = n.announce
	dir.presenceRepair = n.repair
	dir.watching = o.Watching
	dir.watchersChanged = n.announceWatchers
	dir.watchersRepair = n.repairWatchers
	dir.nodesRepair = n.dropGone
	// Listen before reading the others' presence, so that no change
	// falls between the two.
	conn, err := subscribe(ctx, o.DatabaseURL)
	if err != nil {
		dir.Close()
		return nil, err
	}
	if all, watched, err := dir.allPresence(ctx); err == nil {
		n.repair(all)
		n.repairWatchers(watched)
	}
	bg, stop := context.WithCancel(context.Background())
	n.stop, n.done = stop, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { dir.Run(bg) })
	wg.Go(func() { n.listen(bg, conn, o.DatabaseURL, n.handle) })
	wg.Go(func() { n.runCalls(bg) })
	go func() {
		defer close(n.done)
		wg.Wait()
	}()
	n.log.Info("joined the cluster", "url", o.Config.NodeURL)
	return n, nil
}

// handle carries out a message from another node.
func (n *Node) handle(m message) {
	switch m.Kind {
	case msgPresence:
		n.heard(m.From, m.On, m.Off)
		return
	case msgCall:
		n.heardCall(m.Call)
		return
	case msgHeld:
		n.heardHeld(m.Stream)
		return
	case msgWatchers:
		n.heardWatchers(m.From, m.Watchers)
		return
	}
	n.personMu.Lock()
	p := n.person
	n.personMu.Unlock()
	if p == nil {
		n.log.Debug("cluster message dropped", "kind", m.Kind, "err", errNoPerson)
		return
	}
	p.enqueue(func() { p.handle(m) })
}

// dropGone withdraws the asks of nodes whose lease has gone (a node that
// died never sends their msgUnwatch).
func (n *Node) dropGone(live map[string]bool) {
	n.personMu.Lock()
	p := n.person
	n.personMu.Unlock()
	if p != nil {
		p.enqueue(func() { p.dropGone(live) })
	}
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Directory is the stream directory.
func (n *Node) Directory() *Directory { return n.dir }

// Metrics are the node's cluster collectors (nil without a registerer).
func (n *Node) Metrics() *Metrics { return n.obs }

// SessionPrefix starts the ids of the node's sessions.
func (n *Node) SessionPrefix() string { return n.cfg.NodeID + "." }

// Close leaves the cluster: the node's entries leave the directory.
// Call it after the node's sessions and sources have ended.
func (n *Node) Close() {
	n.stop()
	<-n.done
	n.obs.down()
	n.dir.Close()
}

// Kill makes the node vanish from the cluster as a killed one does: its
// leases are no longer renewed nor its entries removed.
func (n *Node) Kill() { n.dir.Halt() }

// Claim records this node as the holder of a stream being published to
// it, for the publisher's life (call release when it ends). A stream
// another node holds fails with a *HeldError, which wraps
// stream.ErrPublisherExists.
func (n *Node) Claim(ctx context.Context, name string) (release func(), err error) {
	release, err = n.dir.Claim(ctx, name, KindPublisher)
	if err == nil {
		n.announceHeld(name)
	}
	return release, err
}

// Middleware marks requests signed by another node (see FromPeer),
// takes the client address a forwarding node vouches for (ClientHeader),
// and refuses a bad signature with 401 (logged at WARN, see refuse).
func (n *Node) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(Header) == "" {
			next.ServeHTTP(w, r)
			return
		}
		id, ok, err := n.sign.verify(r, time.Now())
		if errors.Is(err, errBodyTooLarge) {
			http.Error(w, "node-to-node request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if !ok {
			n.refuse(w, r, time.Now())
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, id))
		if c := r.Header.Get(ClientHeader); c != "" {
			r.RemoteAddr = c // forwarded: the client's own address
		}
		next.ServeHTTP(w, r)
	})
}

// peerOwnerPrefix starts the owner of a session another node made: no
// user or key owner starts with '#' (user names are [A-Za-z0-9._-]).
const peerOwnerPrefix = "#node:"

// PeerOwner is the session owner recorded for a pull by node id.
func PeerOwner(id string) string { return peerOwnerPrefix + id }

// IsPeerOwner reports whether a session's owner is another node.
func IsPeerOwner(owner string) bool { return strings.HasPrefix(owner, peerOwnerPrefix) }

// errNotHere is the answer to another node asking for a stream this node
// neither holds nor can start; errNoPublisher the answer to a viewer
// of a stream that no node holds.
var (
	errNotHere     = errors.New("no publisher on this node")
	errNoPublisher = errors.New("no publisher")
)

// Wrap returns the on-demand source of names under prefix in the
// cluster: a stream another node holds is pulled from it; otherwise inner
// (nil: none) starts it here. Cameras (camera true) are claimed in the
// directory first, so the cluster dials each once. A request from
// another node is only ever served from this node, never relayed on.
func (n *Node) Wrap(inner stream.Source, camera bool, grace time.Duration) stream.Source {
	if g, ok := inner.(stream.GraceSource); ok {
		grace = g.Grace()
	}
	return &source{n: n, inner: inner, camera: camera, grace: grace, running: map[string]running{}}
}

// describe names a holder in logs.
func (n *Node) describe(h Holder) string { return fmt.Sprintf("%s (%s)", h.Node, h.URL) }
