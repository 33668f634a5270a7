package whep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// Events a viewer session's event streams carry (WHEP core extensions,
// server-sent events): the stream going on (active) and off (inactive)
// the air, its simulcast layers, and how many watch it.
var supportedEvents = []string{"active", "inactive", "layers", "viewercount"}

const (
	// maxEventStreams bounds the event streams one session may create.
	maxEventStreams = 4
	// eventEvery is how often layers and viewer count are looked at.
	eventEvery = 2 * time.Second
	// eventHeartbeat keeps idle event streams (and proxies) alive.
	eventHeartbeat = 15 * time.Second
	// eventWriteTimeout bounds one write to an event stream.
	eventWriteTimeout = 10 * time.Second
)

// control is what a viewer session offers beyond media: its layer
// selection (simulcast streams) and its event streams, and the RTCP BYE
// that tells its player the publisher left.
type control struct {
	sess   *session.Session
	lease  *stream.Lease
	name   string
	layers *layerControl // nil unless simulcast
	locals []*sendTrack
	// closing ends every event stream at server shutdown.
	closing <-chan struct{}
	// live is whether the stream had a publisher at the last change seen.
	live atomic.Bool

	// mu guards the following fields.
	mu      sync.Mutex
	streams map[string][]string // event stream id → events it carries
	nextID  int
}

// watch follows the stream's publisher for the session's life: when it
// leaves, the viewer's tracks get an RTCP BYE (RFC 3550 §6.6), which
// players take as the end of the stream. The hub calls back on each
// change, so no goroutine per viewer waits meanwhile.
func (c *control) watch() {
	c.live.Store(c.lease.Live())
	stop := c.lease.OnPublisherChange(func() {
		now := c.lease.Live()
		if c.live.Swap(now) && !now {
			c.bye()
		}
	})
	c.sess.OnClose(stop)
}

// bye sends an RTCP BYE for every track the viewer is sent.
func (c *control) bye() {
	var ssrcs []uint32
	for _, l := range c.locals {
		ssrcs = append(ssrcs, l.ssrcs()...)
	}
	if len(ssrcs) == 0 {
		return
	}
	if err := c.sess.PC.WriteRTCP([]rtcp.Packet{&rtcp.Goodbye{Sources: ssrcs, Reason: "stream ended"}}); err != nil {
		c.sess.Log.Debug("send RTCP BYE", "err", err)
	}
}

// serveEvents is the event resource: POST (a JSON list of events) creates
// an event stream and answers 201 with its Location; GET on the resource
// itself streams every event (players that open an EventSource on the
// advertised URL directly), GET on a created stream streams its events,
// DELETE on it ends it (later requests: 404).
func (c *control) serveEvents(w http.ResponseWriter, r *http.Request, rest string) error {
	switch {
	case rest == "" && r.Method == http.MethodPost:
		return c.createEventStream(w, r)
	case rest == "" && r.Method == http.MethodGet:
		return c.stream(w, r, "", supportedEvents)
	case rest != "" && r.Method == http.MethodGet:
		c.mu.Lock()
		events, ok := c.streams[rest]
		c.mu.Unlock()
		if !ok {
			return httpx.Errorf(http.StatusNotFound, "no such event stream (it may have been deleted)")
		}
		return c.stream(w, r, rest, events)
	case rest != "" && r.Method == http.MethodDelete:
		c.mu.Lock()
		_, ok := c.streams[rest]
		delete(c.streams, rest)
		c.mu.Unlock()
		if !ok {
			return httpx.Errorf(http.StatusNotFound, "no such event stream")
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return httpx.Errorf(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method).WithHeader("Allow", "GET, POST, DELETE")
}

// createEventStream registers an event stream for the events the body
// lists (all supported ones for an empty body).
func (c *control) createEventStream(w http.ResponseWriter, r *http.Request) error {
	events := supportedEvents
	body, err := httpx.ReadBody(w, r, 4<<10)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &events); err != nil {
			return httpx.Errorf(http.StatusBadRequest, `send a JSON list of events, such as ["active","inactive","layers","viewercount"]`)
		}
		for _, e := range events {
			if !slices.Contains(supportedEvents, e) {
				return httpx.Errorf(http.StatusBadRequest, "event %q is not offered; the events are %s", e, strings.Join(supportedEvents, ", "))
			}
		}
	}
	c.mu.Lock()
	if len(c.streams) >= maxEventStreams {
		c.mu.Unlock()
		return httpx.Errorf(http.StatusTooManyRequests, "this session has %d event streams already; delete one first", maxEventStreams)
	}
	c.nextID++
	id := strconv.Itoa(c.nextID)
	c.streams[id] = slices.Clone(events)
	c.mu.Unlock()
	w.Header().Set("Location", "/sessions/"+c.sess.ID+"/sse/"+id)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// stream writes events to a long-lived text/event-stream response until
// the session ends, the event stream is deleted (id, if not ""), the
// server shuts down or the client goes. Each event's data is one line of
// JSON; no initial inactive is sent (the draft says so).
func (c *control) stream(w http.ResponseWriter, r *http.Request, id string, events []string) error {
	rc := http.NewResponseController(w)
	// The stream outlives the server's read and write timeouts; each
	// write gets its own deadline instead.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	wants := func(e string) bool { return slices.Contains(events, e) }
	write := func(event string, data any) bool {
		b, _ := json.Marshal(data)
		if err := rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	live := c.lease.Live()
	if live && wants("active") && !write("active", struct{}{}) {
		return nil
	}
	var lastLayers any
	lastCount := -1
	look := func() bool {
		if c.layers != nil && wants("layers") {
			if l := c.layers.layersEvent(); !reflect.DeepEqual(l, lastLayers) {
				lastLayers = l
				if !write("layers", l) {
					return false
				}
			}
		}
		if n := c.lease.Viewers(); wants("viewercount") && n != lastCount {
			lastCount = n
			if !write("viewercount", map[string]int{"viewercount": n}) {
				return false
			}
		}
		return true
	}
	if !look() {
		return nil
	}
	tick := time.NewTicker(eventEvery)
	defer tick.Stop()
	beat := time.NewTicker(eventHeartbeat)
	defer beat.Stop()
	for {
		changed := c.lease.Changed()
		select {
		case <-r.Context().Done():
			return nil
		case <-c.sess.Done():
			return nil
		case <-c.closing:
			return nil
		case <-changed:
			now := c.lease.Live()
			switch {
			case now && !live && wants("active"):
				if !write("active", struct{}{}) {
					return nil
				}
			case !now && live && wants("inactive"):
				if !write("inactive", struct{}{}) {
					return nil
				}
			}
			live = now
		case <-tick.C:
			if id != "" && !c.has(id) {
				return nil
			}
			if !look() {
				return nil
			}
		case <-beat.C:
			if err := rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil {
				return nil
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}

// has reports whether event stream id still exists.
func (c *control) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.streams[id]
	return ok
}

// links are the Link header values advertising the session's extensions.
func (c *control) links() []string {
	base := "/sessions/" + c.sess.ID
	out := []string{fmt.Sprintf(`<%s/sse>; rel="%s"; events="%s"`, base, relEvents, strings.Join(supportedEvents, ","))}
	if c.layers != nil {
		out = append(out, fmt.Sprintf(`<%s/layer>; rel="%s"`, base, relLayer))
	}
	return out
}
