package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxPeerBody bounds the answer of a node to another's GET.
const maxPeerBody = 8 << 20

// ErrNodeGone is the answer to a request for a node that the directory
// does not list: its lease ran out (it died or left) or it never was.
var ErrNodeGone = errors.New("the node is not in the cluster")

// Get makes a GET of path (with its query, such as "/x?a=1") on node,
// signed as this node's (see Header), and returns the body of its 200
// answer. A node the directory does not list is ErrNodeGone; any other
// status is an error that names it.
func (n *Node) Get(ctx context.Context, node, path string) ([]byte, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("get from node %s: path %q is not absolute", node, path)
	}
	base, found, err := n.dir.NodeURL(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("get from node %s: %w", node, err)
	}
	if !found {
		return nil, fmt.Errorf("get from node %s: %w", node, ErrNodeGone)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("get from node %s: %w", node, err)
	}
	if err := n.sign.sign(req, time.Now()); err != nil {
		return nil, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get from node %s: %w", node, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerBody+1))
	if err != nil {
		return nil, fmt.Errorf("get from node %s: read the answer: %w", node, err)
	}
	if len(body) > maxPeerBody {
		return nil, fmt.Errorf("get from node %s: the answer is over %d bytes", node, maxPeerBody)
	}
	if n.refusedBy(node, resp) {
		return nil, fmt.Errorf("get from node %s: %w", node, errRefused)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get from node %s: %s: %s", node, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
