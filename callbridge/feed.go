package callbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
)

// Event feed bounds.
const (
	// recentEvents is how many past events are kept for Last-Event-ID.
	recentEvents = 1024
	// feedQueue is how many events wait for a slow feed before it is
	// dropped (the page reconnects and catches up with Last-Event-ID).
	feedQueue = 64
	// feedWriteTimeout bounds one write to a feed's connection.
	feedWriteTimeout = 20 * time.Second
	// reconnectMillis is the reconnection delay suggested to EventSource.
	reconnectMillis = 2000
)

// event is one server-sent event.
type event struct {
	id   uint64
	typ  string
	data []byte // JSON, one line
	to   string // the user it is for; "" for everyone signed in
	at   time.Time
}

// feed is one open GET /api/v1/events.
type feed struct {
	user   string
	token  string // id of the sign-in session that opened it
	ch     chan *event
	gone   chan struct{} // closed when the bridge drops the feed
	goneMu sync.Once
}

// kick drops the feed: its handler returns.
func (f *feed) kick() { f.goneMu.Do(func() { close(f.gone) }) }

// send queues e, or drops the feed if it cannot keep up.
func (f *feed) send(e *event) {
	select {
	case f.ch <- e:
	default:
		f.kick()
	}
}

// emitLocked sends an event of type typ with data (JSON-encoded) to user's
// feeds ("" for everyone's) and keeps it for replay. b.mu must be held.
func (b *Bridge) emitLocked(to, typ string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		b.log.Error("event not encodable", "type", typ, "err", err)
		return
	}
	b.seq++
	e := &event{id: b.seq, typ: typ, data: raw, to: to, at: time.Now()}
	if len(b.recent) >= recentEvents {
		b.recent = slices.Delete(b.recent, 0, len(b.recent)-recentEvents+1)
	}
	b.recent = append(b.recent, e)
	if to != "" {
		for _, f := range b.feeds[to] {
			f.send(e)
		}
		return
	}
	for _, fs := range b.feeds {
		for _, f := range fs {
			f.send(e)
		}
	}
}

// subscribe registers a feed for user and returns it with the events it
// missed since lastID (0: none wanted) and the hello event's data. It
// fails with an *httpx.Error when the limits are reached.
func (b *Bridge) subscribe(user, tokenID string, lastID uint64) (*feed, []*event, map[string]any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, nil, &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "the server is shutting down", RetryAfter: 5 * time.Second}
	}
	if len(b.feeds[user]) >= b.cfg.FeedsPerUser {
		return nil, nil, nil, &httpx.Error{Status: http.StatusTooManyRequests, RetryAfter: 10 * time.Second,
			Detail: fmt.Sprintf("you already have %d pages open; close one", b.cfg.FeedsPerUser)}
	}
	if b.nfeeds >= b.cfg.MaxFeeds {
		return nil, nil, nil, &httpx.Error{Status: http.StatusServiceUnavailable, RetryAfter: 30 * time.Second,
			Detail: "the server holds as many event feeds as it may; try again later"}
	}
	// Events so far come from the replay buffer, later ones through the
	// feed's queue: one or the other, never both.
	var missed []*event
	complete := true
	if lastID > 0 {
		missed, complete = b.missedLocked(user, lastID)
	}
	f := &feed{user: user, token: tokenID, ch: make(chan *event, feedQueue), gone: make(chan struct{})}
	b.feeds[user] = append(b.feeds[user], f)
	b.nfeeds++
	if t := b.leaving[user]; t != nil {
		t.Stop()
		delete(b.leaving, user)
	}
	if !b.online[user] {
		b.online[user] = true
		b.emitLocked("", "presence", map[string]any{"user": user, "online": true})
	}
	online := make([]string, 0, len(b.online))
	for u := range b.online {
		online = append(online, u)
	}
	slices.Sort(online)
	online = b.withElsewhere(online)
	calls := []Call{}
	if id := b.inCall[user]; id != "" {
		calls = append(calls, b.calls[id].snapshot())
	}
	hello := map[string]any{"user": user, "online": online, "calls": calls}
	if !complete {
		hello["resync"] = true
	}
	w := b.watchersOfLocked(user)
	if len(w) > 0 {
		hello["watchers"] = w
	}
	// The user's only page here: the next look tells it only of changes
	// since hello. (With other pages here, those were told what shown
	// holds, and the next look brings them up to date.)
	if len(b.feeds[user]) == 1 {
		if len(w) > 0 {
			b.shown[user] = w
		} else {
			delete(b.shown, user)
		}
	}
	// A request this page may have missed (it was reloading): viewers wait.
	if r := b.requested[user]; r != nil && r.timer != nil && !b.hub.IsLive(usersPrefix+user) {
		hello["publish_request"] = usersPrefix + user
		if len(r.codecs) > 0 {
			hello["publish_codecs"] = r.codecs
		}
	}
	// Prompts put up while this page was away: the viewers still wait.
	if asks := b.pendingAsksLocked(user); len(asks) > 0 {
		hello["watch_asks"] = asks
	}
	return f, missed, hello, nil
}

// missedLocked returns the events for user after lastID (one of this
// bridge's), and whether they are all that user missed: false when some
// have left the replay buffer or the replay window, or lastID is not one
// this bridge sent yet. b.mu must be held.
func (b *Bridge) missedLocked(user string, lastID uint64) ([]*event, bool) {
	if lastID > b.seq {
		return nil, false
	}
	// The buffer holds every event, whoever it is for, so its ids have
	// no gaps: the one after lastID is there unless it was pushed out.
	complete := len(b.recent) > 0 && b.recent[0].id <= lastID+1 || lastID == b.seq
	oldest := time.Now().Add(-b.cfg.ReplayWindow)
	var missed []*event
	for _, e := range b.recent {
		if e.id <= lastID || (e.to != "" && e.to != user) {
			continue
		}
		if !e.at.After(oldest) {
			complete = false
			continue
		}
		missed = append(missed, e)
	}
	return missed, complete
}

// unsubscribe removes f; the user goes offline PresenceGrace after their
// last feed closed, unless a new one opens first.
func (b *Bridge) unsubscribe(f *feed) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fs := b.feeds[f.user]
	i := slices.Index(fs, f)
	if i < 0 {
		return
	}
	b.nfeeds--
	if fs = slices.Delete(fs, i, i+1); len(fs) > 0 {
		b.feeds[f.user] = fs
		return
	}
	delete(b.feeds, f.user)
	if b.closed || b.leaving[f.user] != nil {
		return
	}
	user := f.user
	b.leaving[user] = time.AfterFunc(b.cfg.PresenceGrace, func() { b.wentOffline(user) })
}

// wentOffline announces that user left, unless they came back.
func (b *Bridge) wentOffline(user string) {
	b.mu.Lock()
	if b.leaving[user] == nil || len(b.feeds[user]) > 0 {
		b.mu.Unlock()
		return
	}
	delete(b.leaving, user)
	delete(b.online, user)
	b.emitLocked("", "presence", map[string]any{"user": user, "online": false})
	var ringing string
	if id := b.inCall[user]; id != "" && b.calls[id].State == StateRinging && b.calls[id].Callee == user {
		ringing = id
	}
	_, asked := b.requested[user]
	b.mu.Unlock()
	if asked {
		b.hub.SourceFailed(usersPrefix+user, stream.Ended(fmt.Errorf("%s went offline", user)))
	}
	if sh := b.cluster(); sh != nil && sh.OnlineElsewhere(user) {
		ringing = "" // their pages on other nodes still ring
	}
	if ringing != "" {
		b.end(ringing, func(c *call) (string, error) {
			if c.State != StateRinging {
				return "", errNotNow
			}
			return EndOffline, nil
		})
	}
	if err := b.store.TouchLastSeen(context.Background(), user); err != nil {
		b.log.Debug("last seen not recorded", "user", user, "err", err)
	}
}

// Events is GET /api/v1/events: the signed-in user's server-sent event
// feed (see the package documentation of the events). It is authenticated
// by the Bearer header or the app's cookie, resumes after Last-Event-ID
// within ReplayWindow, and is exempt from the server's timeouts. A
// Last-Event-ID it cannot resume after (too old, from before a restart)
// gets a hello with "resync": true: the page reloads what it shows.
func (b *Bridge) Events(w http.ResponseWriter, r *http.Request) error {
	return b.serveFeed(w, r, nil)
}

// serveFeed is GET /api/v1/events; get (nil on one node) fetches the
// events a page missed from the node of its Last-Event-ID when that is
// another node of the cluster.
func (b *Bridge) serveFeed(w http.ResponseWriter, r *http.Request, get PeerGet) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	lastRaw := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	lastID, node := b.parseEventID(lastRaw)
	rc := http.NewResponseController(w)
	// The feed outlives the server's read and write timeouts; each write
	// gets its own deadline instead.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("event feed: %w", err)
	}
	// Events the page missed on another node come from that node, before
	// the feed subscribes here: this node's events meanwhile are in the
	// hello that follows, and do not pile up in a queue that a slow node
	// would overflow. When they cannot be had, or the id means nothing
	// here, the page resynchronises from hello.
	var fetched []string
	resync := false
	switch {
	case node != "" && get != nil:
		fetched, err = b.fetchMissed(r.Context(), get, node, p.User, lastRaw)
		if err != nil {
			b.log.Debug("event feed resumed without the events missed on another node", "user", p.User, "peer", node, "err", err)
			resync = true
		}
	case lastRaw != "" && lastID == 0:
		resync = true
	}
	f, missed, hello, err := b.subscribe(p.User, p.TokenID, lastID)
	if err != nil {
		return err
	}
	defer b.unsubscribe(f)
	if resync {
		hello["resync"] = true
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(s string) error {
		if err := rc.SetWriteDeadline(time.Now().Add(feedWriteTimeout)); err != nil {
			return err
		}
		if _, err := w.Write([]byte(s)); err != nil {
			return err
		}
		return rc.Flush()
	}
	helloJSON, _ := json.Marshal(hello)
	// hello carries no id, so a reconnect still resumes after the last
	// event the page actually saw.
	if err := write(fmt.Sprintf("retry: %d\nevent: hello\ndata: %s\n\n", reconnectMillis, helloJSON)); err != nil {
		return nil
	}
	for _, e := range fetched {
		if err := write(e); err != nil {
			return nil
		}
	}
	for _, e := range missed {
		if err := write(b.format(e)); err != nil {
			return nil
		}
	}
	beat := time.NewTicker(b.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-f.gone:
			return nil
		case e := <-f.ch:
			if err := write(b.format(e)); err != nil {
				return nil
			}
		case <-beat.C:
			if err := write(": ping\n\n"); err != nil {
				return nil
			}
		}
	}
}

// Revoke closes user's event feeds opened with the sign-in session
// tokenID, or all of them if tokenID is "": the user signed out, was
// disabled or deleted, or their password was set. Their pages reconnect,
// and only those still signed in get a feed again.
func (b *Bridge) Revoke(user, tokenID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for u, fs := range b.feeds {
		if !strings.EqualFold(u, user) {
			continue
		}
		for _, f := range fs {
			if tokenID == "" || f.token == tokenID {
				f.kick()
			}
		}
	}
}

// format is e in the text/event-stream format. Ids carry the bridge's
// epoch, so that an id from before a restart is not mistaken for one of
// the new numbering, and in a cluster the node's id (see SetNode).
func (b *Bridge) format(e *event) string {
	return fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", b.eventID(e), e.typ, e.data)
}

// eventID is e's id: EPOCH-N alone, NODE.EPOCH-N in a cluster.
func (b *Bridge) eventID(e *event) string {
	return b.epoch + "-" + strconv.FormatUint(e.id, 10)
}

// parseEventID returns the event number of a Last-Event-ID this bridge
// sent (0 for anything else), and, for an id another node of the
// cluster sent, that node's id.
func (b *Bridge) parseEventID(v string) (id uint64, node string) {
	v = strings.TrimSpace(v)
	i := strings.LastIndexByte(v, '-')
	if i < 0 {
		return 0, ""
	}
	n, err := strconv.ParseUint(v[i+1:], 10, 64)
	if err != nil || n == 0 {
		return 0, ""
	}
	epoch := v[:i]
	if epoch == b.epoch {
		return n, ""
	}
	self, _, clustered := strings.Cut(b.epoch, ".")
	other, _, ok := strings.Cut(epoch, ".")
	if clustered && ok && other != "" && other != self {
		return 0, other
	}
	return 0, ""
}

// signedIn returns the request's principal if it is a user signed in with
// a session: anonymous requests are 401, publish keys 403.
func signedIn(r *http.Request) (*auth.Principal, error) {
	p := auth.PrincipalFrom(r.Context())
	switch {
	case p == nil:
		return nil, httpx.Errorf(http.StatusUnauthorized, "sign in first").WithHeader("WWW-Authenticate", `Bearer realm="wishcast"`)
	case p.Kind != auth.PrincipalSession:
		return nil, httpx.Errorf(http.StatusForbidden, "publish keys are for media only; sign in with a password")
	}
	return p, nil
}

// errClosed is returned once the bridge is closed.
var errClosed = errors.New("callbridge closed")
