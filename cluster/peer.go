package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header carries a node-to-node request's signature:
// "<node id>;<unix seconds>;<hex HMAC-SHA256>" of the node id, time,
// method, path and ClientHeader under the cluster secret. No user token
// travels between nodes.
const Header = "X-Wishcast-Node"

// ClientHeader carries, on a request one node forwards to another, the
// address of the client that sent it, so that the node answering sees
// the client as if it had asked directly.
const ClientHeader = "X-Wishcast-Client"

// maxSkew is how far a signature's time may be from this node's clock.
const maxSkew = time.Minute

// signer signs and checks node-to-node requests.
type signer struct {
	node   string
	secret []byte
}

// mac is the signature of one request.
func (s signer) mac(node, ts string, r *http.Request) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s", node, ts, r.Method, r.URL.EscapedPath(), r.Header.Get(ClientHeader))
	return hex.EncodeToString(m.Sum(nil))
}

// sign adds this node's signature to r.
func (s signer) sign(r *http.Request, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(Header, s.node+";"+ts+";"+s.mac(s.node, ts, r))
}

// verify returns the id of the node that signed r, or false.
func (s signer) verify(r *http.Request, now time.Time) (string, bool) {
	parts := strings.Split(r.Header.Get(Header), ";")
	if len(parts) != 3 {
		return "", false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return "", false
	}
	want := s.mac(parts[0], parts[1], r)
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return "", false
	}
	return parts[0], true
}

// peerKey marks a context as a request from another node.
type peerKey struct{}

// FromPeer returns the node id of the node that sent the request of ctx
// (a relay pulling a stream, a forwarded session request), or false for
// a request from anyone else.
func FromPeer(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(peerKey{}).(string)
	return id, ok
}
