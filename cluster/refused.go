package cluster

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// refusedMark is the value of Header on a node's 401 to a request whose
// signature it refused, so that the sender tells it apart from a user's
// 401 that a forwarded request may get.
const refusedMark = "refused"

// refusalWarnEvery spaces the warnings about refused signatures: anyone
// can send a bad one, and a node with the wrong secret sends many.
const refusalWarnEvery = 10 * time.Second

// errRefused is another node's refusal of this node's signature.
var errRefused = errors.New("the node refused this node's signature (is CLUSTER_SECRET the same on every node, and are their clocks in sync?)")

// warnLimit lets one warning through per interval and counts the ones
// it held back.
type warnLimit struct {
	// mu guards the following fields.
	mu   sync.Mutex
	last time.Time
	held int
}

// allow reports whether a warning may be logged now, and how many were
// held back since the last one.
func (l *warnLimit) allow(now time.Time, every time.Duration) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.held++
		return false, 0
	}
	held := l.held
	l.last, l.held = now, 0
	return true, held
}

// refuse answers a request whose node signature did not verify: 401,
// marked as a refusal (see refusedMark), and a warning that names the
// node it claims to come from and why it failed.
func (n *Node) refuse(w http.ResponseWriter, r *http.Request, now time.Time) {
	if ok, held := n.refusals.allow(now, refusalWarnEvery); ok && n.log != nil {
		claimed, _, _ := strings.Cut(r.Header.Get(Header), ";")
		n.log.Warn("refused a node-to-node request: "+refusalReason(r.Header.Get(Header), now),
			"peer", claimed, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "refused_before", held)
	}
	w.Header().Set(Header, refusedMark)
	http.Error(w, "bad node signature (is CLUSTER_SECRET the same on every node, and their clocks right?)", http.StatusUnauthorized)
}

// refusalReason says why a signature header did not verify.
func refusalReason(header string, now time.Time) string {
	parts := strings.Split(header, ";")
	if len(parts) != 4 {
		return "malformed signature"
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "malformed signature time"
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return "its clock is " + d.Round(time.Second).String() + " off this node's (more than " + maxSkew.String() + ")"
	}
	return "the signature does not match (another CLUSTER_SECRET?) or was sent before (a replay)"
}

// refusedBy reports whether resp, from peer, refuses this node's
// signature, and if so logs it at WARN, at most once per
// refusalWarnEvery: every node-to-node request (each relay's retry every
// renewal, each forwarded request, each feed's fetch) fails until the
// secrets or clocks agree.
func (n *Node) refusedBy(peer string, resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(Header) != refusedMark {
		return false
	}
	if ok, held := n.refused.allow(time.Now(), refusalWarnEvery); ok {
		n.log.Warn("another node refused this node's signature: is CLUSTER_SECRET the same on every node, and are their clocks in sync?",
			"peer", peer, "method", resp.Request.Method, "path", resp.Request.URL.Path, "refused_before", held)
	}
	return true
}
