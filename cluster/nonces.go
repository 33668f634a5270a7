package cluster

import (
	"sync"
	"time"
)

// maxNonce bounds a signature's nonce (rand.Text makes 26 characters).
const maxNonce = 64

// maxNonces bounds how many nonces a node remembers: at that many
// requests from other nodes within twice maxSkew, further ones are
// refused until the oldest expire (about 20 MB of memory at the most).
const maxNonces = 1 << 18

// nonces remembers the signature nonces a node took, each until its
// signature could no longer pass the time check, so that a captured
// request cannot be sent to the node a second time.
type nonces struct {
	mu   sync.Mutex
	seen map[string]time.Time // key: node id;nonce; value: when it may be forgotten
	next time.Time            // when the map is next swept of expired nonces
}

// newNonces returns an empty memory of nonces.
func newNonces() *nonces { return &nonces{seen: map[string]time.Time{}} }

// take records key as seen at now and reports whether it was new (and
// room was left for it).
func (n *nonces) take(key string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.After(n.next) || len(n.seen) >= maxNonces {
		for k, until := range n.seen {
			if now.After(until) {
				delete(n.seen, k)
			}
		}
		n.next = now.Add(maxSkew)
	}
	if _, dup := n.seen[key]; dup || len(n.seen) >= maxNonces {
		return false
	}
	// A signature passes the time check from maxSkew before its time to
	// maxSkew after: remember it as long as the latest of those.
	n.seen[key] = now.Add(2 * maxSkew)
	return true
}
