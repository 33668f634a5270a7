package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header carries a node-to-node request's signature:
// "<node id>;<unix seconds>;<nonce>;<hex HMAC-SHA256>" under the cluster
// secret of the node id, time, nonce, method, target host, escaped path,
// raw query, ClientHeader and the SHA-256 of the body. A captured header
// is thus good only for the same request to the same node, for maxSkew,
// and only once: the node remembers the nonces it took for that long
// (see nonces). No user token travels between nodes.
const Header = "X-Wishcast-Node"

// ClientHeader carries, on a request one node forwards to another, the
// address of the client that sent it, so that the node answering sees
// the client as if it had asked directly.
const ClientHeader = "X-Wishcast-Client"

// maxSkew is how far a signature's time may be from this node's clock.
const maxSkew = 15 * time.Second

// maxSignedBody bounds the body of a node-to-node request (SDP offers,
// trickle fragments): the signature covers its hash, so it is read whole.
const maxSignedBody = 1 << 20

// errBodyTooLarge is a signed request's body over maxSignedBody.
var errBodyTooLarge = errors.New("node-to-node request body too large")

// signer signs and checks node-to-node requests.
type signer struct {
	node   string
	secret []byte
	// seen are the nonces of the requests verify took (nil: none
	// remembered, as in a signer that only signs).
	seen *nonces
}

// mac is the signature of one request whose body hashes to sum.
func (s signer) mac(node, ts, nonce string, r *http.Request, sum []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%x", node, ts, nonce, r.Method, strings.ToLower(r.Host),
		r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get(ClientHeader), sum)
	return m.Sum(nil)
}

// bodyHash reads r's body (up to maxSignedBody), puts it back for
// whoever reads it next and returns its SHA-256.
func bodyHash(r *http.Request) ([]byte, error) {
	var b []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		b, err = io.ReadAll(io.LimitReader(r.Body, maxSignedBody+1))
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read the request body: %w", err)
		}
		if len(b) > maxSignedBody {
			return nil, errBodyTooLarge
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// sign adds this node's signature to r, whose Host must be the node it
// goes to. It reads the body and puts it back.
func (s signer) sign(r *http.Request, now time.Time) error {
	sum, err := bodyHash(r)
	if err != nil {
		return fmt.Errorf("sign a node-to-node request: %w", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := rand.Text()
	r.Header.Set(Header, s.node+";"+ts+";"+nonce+";"+hex.EncodeToString(s.mac(s.node, ts, nonce, r, sum)))
	return nil
}

// verify returns the id of the node that signed r, or false: also for a
// signature already taken once (a replay). It reads the body and puts it
// back; a body too large to hash is refused with errBodyTooLarge.
func (s signer) verify(r *http.Request, now time.Time) (string, bool, error) {
	parts := strings.Split(r.Header.Get(Header), ";")
	if len(parts) != 4 || parts[2] == "" || len(parts[2]) > maxNonce {
		return "", false, nil
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", false, nil
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return "", false, nil
	}
	got, err := hex.DecodeString(parts[3])
	if err != nil {
		return "", false, nil
	}
	sum, err := bodyHash(r)
	if err != nil {
		return "", false, err
	}
	if !hmac.Equal(s.mac(parts[0], parts[1], parts[2], r, sum), got) {
		return "", false, nil
	}
	if s.seen != nil && !s.seen.take(parts[0]+";"+parts[2], now) {
		return "", false, nil
	}
	return parts[0], true, nil
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
