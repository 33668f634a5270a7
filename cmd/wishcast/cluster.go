package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/cluster"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/session"
)

// joinCluster makes the server a node of a cluster when NODE_URL is set:
// the stream directory, relays from other nodes as on-demand sources of
// every stream name, session ids that name this node. Without NODE_URL
// it does nothing.
func (s *server) joinCluster() error {
	if !s.cfg.Cluster.Enabled() {
		return nil
	}
	n, err := cluster.New(context.Background(), cluster.Options{
		Config: s.cfg.Cluster, DatabaseURL: s.cfg.DatabaseURL, API: s.api.Outbound, Hub: s.hub,
		SetupTimeout: s.cfg.Stream.OnDemandTimeout, Registerer: s.metrics.Registry(),
		RelaysOut: func() int {
			c := 0
			s.sessions.Each(func(_, _, owner string) {
				if cluster.IsPeerOwner(owner) {
					c++
				}
			})
			return c
		},
		OnlineUsers: s.bridge.OnlineUsers,
		Watching:    s.bridge.LocalWatchers,
		Log:         s.log.With("component", "cluster"),
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s.cluster = n
	s.sessions.SetIDPrefix(n.SessionPrefix())
	grace := s.cfg.Stream.OnDemandGrace
	for _, p := range []string{rtsp.Prefix, ""} {
		s.hub.AddSource(p, n.Wrap(s.hub.SourceOf(p), p == rtsp.Prefix, grace))
	}
	s.hub.AddSource("calls/", n.WrapCalls(s.hub.SourceOf("calls/"), grace))
	s.shareCalls(n)
	s.hub.AddSource("users/", n.WrapPerson(s.hub.SourceOf("users/"), grace))
	// Event ids name the node; a feed resuming after another node's id
	// fetches what it missed from there (eventFeed).
	s.bridge.SetNode(n.ID())
	// Event feeds hear who comes and goes on the other nodes.
	s.bridge.SetElsewhere(n.OnlineElsewhere)
	n.SetPresenceHook(s.bridge.PresenceElsewhere)
	// A person's page hears who watches them on every node.
	s.bridge.SetWatchersElsewhere(n.WatchersElsewhere)
	// People lists: online or publishing on any node.
	s.authh.SetPresence(func(user string) (bool, bool) {
		online, publishing := s.bridge.Online(user), s.hub.IsLive("users/"+user)
		if online && publishing {
			return true, true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		on, pub, err := n.Person(ctx, user)
		if err != nil {
			s.log.Warn("presence on other nodes unknown", "err", err)
		}
		return online || on, publishing || pub
	})
	return nil
}

// keepAlwaysOn holds the always-on cameras on one node of the cluster
// each (see cluster.Node.KeepAlwaysOn) until ctx ends.
func (s *server) keepAlwaysOn(ctx context.Context) {
	s.cluster.KeepAlwaysOn(ctx, cluster.AlwaysOn{
		List: func(ctx context.Context) ([]string, error) {
			list, err := s.catalog.List(ctx)
			if err != nil {
				return nil, err
			}
			var names []string
			for _, d := range list {
				if d.AlwaysOn && !d.Disabled {
					names = append(names, rtsp.Prefix+d.Name)
				}
			}
			return names, nil
		},
		Start: s.cameras.Start,
		Stop:  s.cameras.Stop,
	})
}

// clusterClaim is the WHIP endpoint's claim on a stream across the
// cluster, nil on one node.
func (s *server) clusterClaim() func(ctx context.Context, name string) (func(), error) {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.Claim
}

// clusterMiddleware checks node-to-node signatures (see
// cluster.FromPeer); on one node it returns h unchanged.
func (s *server) clusterMiddleware(h http.Handler) http.Handler {
	if s.cluster == nil {
		return h
	}
	return s.cluster.Middleware(h)
}

// clusterSessions is the /sessions/{id} handler: forwarded to the node
// holding the session in a cluster.
func (s *server) clusterSessions(local http.Handler, id func(*http.Request) string) http.Handler {
	if s.cluster == nil {
		return local
	}
	return s.cluster.Sessions(local, id)
}

// peerView lets another node pull a stream (its viewers were checked
// there), and leaves other requests to next.
func peerView(next func(r *http.Request, action, stream string) (string, error)) func(r *http.Request, action, stream string) (string, error) {
	return func(r *http.Request, action, stream string) (string, error) {
		if id, ok := cluster.FromPeer(r.Context()); ok && action == string(auth.ActionView) {
			return cluster.PeerOwner(id), nil
		}
		return next(r, action, stream)
	}
}

// peerSessions lets another node end or change the sessions it made, and
// leaves other requests to next.
func peerSessions(next func(r *http.Request, c session.Creator) error) func(r *http.Request, c session.Creator) error {
	return func(r *http.Request, c session.Creator) error {
		if _, ok := cluster.FromPeer(r.Context()); ok && cluster.IsPeerOwner(c.Owner) {
			return nil
		}
		return next(r, c)
	}
}

// eventFeed is GET /api/v1/events: in a cluster, a page that resumes
// after an event of another node gets what it missed from that node.
func (s *server) eventFeed() func(http.ResponseWriter, *http.Request) error {
	if s.cluster == nil {
		return s.bridge.Events
	}
	return s.bridge.EventsVia(s.cluster.Get)
}
