package callbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wishcast/wishcast/cluster"
	"github.com/wishcast/wishcast/httpx"
)

// ReplayPath is where a node of a cluster serves, to the other nodes
// only, the events it kept for a user after one of its event ids: a page
// whose feed was on that node and that reconnects to another gets what it
// missed (GET ReplayPath?user=alice&after=NODE.EPOCH-N).
const ReplayPath = "/cluster/v1/events"

// fetchTimeout bounds fetching a page's missed events from another node;
// the page waits that long at most for its hello.
const fetchTimeout = 3 * time.Second

// PeerGet makes a GET of path (with its query) on another node of the
// cluster, signed as this node's, and returns the body of its 200 answer
// (cluster.Node.Get).
type PeerGet func(ctx context.Context, node, path string) ([]byte, error)

// replayed is one event as a node sends it to another.
type replayed struct {
	ID   string          `json:"id"`
	Type string          `json:"event"`
	Data json.RawMessage `json:"data"`
}

// SetNode names this node of a cluster in its event ids
// (NODE.EPOCH-N), so that no node takes another's id for one of its own
// and a feed that resumes on another node knows where to fetch what it
// missed. Call it before serving.
func (b *Bridge) SetNode(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, _, named := strings.Cut(b.epoch, "."); !named {
		b.epoch = id + "." + b.epoch
	}
}

// EventsVia is GET /api/v1/events on a node of a cluster: as Events,
// and a page that resumes after another node's event gets the events it
// missed there, fetched from that node with get; when that node is gone
// or cannot replay them all, hello says "resync": true instead.
func (b *Bridge) EventsVia(get PeerGet) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error { return b.serveFeed(w, r, get) }
}

// Replay is GET ReplayPath, for the other nodes of a cluster only
// (cluster.FromPeer): the events kept for user after the id after, as
// JSON, or 410 when this node cannot give them all (not its id, from
// before a restart, or older than the replay buffer or window).
func (b *Bridge) Replay(w http.ResponseWriter, r *http.Request) error {
	if _, ok := cluster.FromPeer(r.Context()); !ok {
		return httpx.Errorf(http.StatusNotFound, "no such resource")
	}
	user, after := r.URL.Query().Get("user"), r.URL.Query().Get("after")
	id, _ := b.parseEventID(after)
	if user == "" || id == 0 {
		return httpx.Errorf(http.StatusGone, "event id %q is not one of this node's", after)
	}
	b.mu.Lock()
	missed, complete := b.missedLocked(user, id)
	out := make([]replayed, 0, len(missed))
	for _, e := range missed {
		out = append(out, replayed{ID: b.eventID(e), Type: e.typ, Data: e.data})
	}
	b.mu.Unlock()
	if !complete {
		return httpx.Errorf(http.StatusGone, "the events after %q are no longer all kept", after)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"events": out})
}

// fetchMissed asks node for the events user missed after lastID (one of
// that node's ids) and returns them in the text/event-stream format.
func (b *Bridge) fetchMissed(ctx context.Context, get PeerGet, node, user, lastID string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	q := url.Values{"user": {user}, "after": {lastID}}
	body, err := get(ctx, node, ReplayPath+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	var in struct {
		Events []replayed `json:"events"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("the node's events: %w", err)
	}
	out := make([]string, 0, len(in.Events))
	for _, e := range in.Events {
		var data bytes.Buffer
		if strings.ContainsAny(e.ID, "\r\n") || strings.ContainsAny(e.Type, "\r\n") || e.Type == "" ||
			json.Compact(&data, e.Data) != nil {
			return nil, fmt.Errorf("the node sent a malformed event %q", e.ID)
		}
		out = append(out, fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, data.Bytes()))
	}
	return out, nil
}
