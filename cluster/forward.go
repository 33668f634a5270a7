package cluster

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// NodeOfSession returns the id of the node that holds the session id
// (its prefix), or false for an id without one.
func NodeOfSession(id string) (string, bool) {
	node, _, ok := strings.Cut(id, ".")
	return node, ok && node != ""
}

// Sessions wraps local, the handler of /sessions/{id} and its
// sub-resources: a request for a session another node holds is forwarded
// to that node, which answers as if asked directly (a client behind a
// load balancer never needs to reach a particular node). id extracts the
// session id from the request. The user's own credentials go with the
// request; the holder decides as for a request made to it.
func (n *Node) Sessions(local http.Handler, id func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, ok := NodeOfSession(id(r))
		if _, peer := FromPeer(r.Context()); !ok || peer || node == n.cfg.NodeID {
			local.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		base, found, err := n.dir.NodeURL(ctx, node)
		cancel()
		switch {
		case err != nil:
			n.log.Warn("forward a session request", "peer", node, "err", err)
			w.Header().Set("Retry-After", "2")
			http.Error(w, "the node list is unavailable; try again", http.StatusServiceUnavailable)
			return
		case !found:
			local.ServeHTTP(w, r) // a node that is gone: the session ended
			return
		}
		target, err := url.Parse(base)
		if err != nil {
			http.Error(w, "bad node address", http.StatusBadGateway)
			return
		}
		if r.ContentLength > maxSignedBody {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		n.obs.forward()
		set := w.Header().Clone() // headers this node already set (CORS)
		proxy := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Host = target.Host
				pr.Out.Header.Set(ClientHeader, r.RemoteAddr)
				if err := n.sign.sign(pr.Out, time.Now()); err != nil {
					// Unsigned, the holder refuses it with 401.
					n.log.Warn("forward a session request", "peer", node, "err", err)
				}
			},
			Transport: n.client.Transport,
			ModifyResponse: func(res *http.Response) error {
				if n.refusedBy(node, res) {
					res.Header.Del(Header)
				}
				for k := range set {
					res.Header.Del(k)
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				n.log.Warn("forward a session request", "peer", node, "err", err)
				w.Header().Set("Retry-After", "2")
				http.Error(w, "the node holding this session did not answer", http.StatusBadGateway)
			},
		}
		proxy.ServeHTTP(w, r)
	})
}
