package callbridge

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/cluster"
	"github.com/wishcast/wishcast/stream"
)

// Stream namespaces the bridge serves.
const (
	usersPrefix = "users/"
	callsPrefix = "calls/"
)

// Session close reasons the bridge gives (they match the session
// package's, which label metrics).
const (
	reasonNoViewers = "no_viewers"
	reasonCallEnded = "call_ended"
)

// monitorEvery is how often the bridge looks at sessions and streams: who
// watches whom, and whether call participants still publish.
const monitorEvery = 250 * time.Millisecond

// Sessions is what the bridge needs of the running WebRTC sessions.
type Sessions interface {
	// Each calls f for every running session.
	Each(f func(protocol, stream, owner string))
	// CloseWhere ends the sessions match selects, with reason.
	CloseWhere(match func(protocol, stream, owner string) bool, reason string) int
}

// Options are the parts New wires together.
type Options struct {
	Config   Config
	Hub      *stream.Hub
	Accounts *auth.Store
	Sessions Sessions
	// AnswerTimeout is how long a watched user's page has to publish
	// before the viewers are told it did not answer; keep it below the
	// hub's on-demand timeout so that they hear why.
	AnswerTimeout time.Duration
	// OnSetup, if set, hears how long each answered call took from being
	// placed to both participants' streams being live.
	OnSetup func(time.Duration)
	Log     *slog.Logger
}

// Bridge holds presence, event feeds, watch requests and calls.
type Bridge struct {
	cfg      Config
	hub      *stream.Hub
	store    *auth.Store
	sessions Sessions
	answer   time.Duration
	epoch    string // distinguishes this process's event ids
	onSetup  func(time.Duration)
	log      *slog.Logger

	started atomic.Uint64
	// sharedCalls holds the cluster's store of calls (see SetShared).
	sharedCalls atomic.Value
	// placed limits the calls each user places, rung the calls that ring
	// each user.
	placed, rung *rates

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	// mu guards all following fields.
	mu        sync.Mutex
	closed    bool
	feeds     map[string][]*feed // by user
	nfeeds    int
	online    map[string]bool          // users announced online
	leaving   map[string]*time.Timer   // users whose last feed closed, not yet announced offline
	seq       uint64                   // id of the last event
	recent    []*event                 // the last events, oldest first, for Last-Event-ID
	calls     map[string]*call         // ringing and active calls by id
	inCall    map[string]string        // user → id of their ringing or active call
	requested map[string]*watchRequest // users whose users/{u} the hub started
	watchers  map[string][]string      // user → who watched them here at the last look
	shown     map[string][]string      // user → who their pages were last told watches them, on any node
	cameras   map[string]bool          // users whose users/{u} was live at the last look
	ended     map[string]uint64        // calls ended, by reason
	asks      map[string]*ask          // prompts up on people's pages, by id
	asking    map[consentKey]*ask      // the same, by person and viewer
	verdicts  map[consentKey]verdict   // answers remembered
	elsewhere func() []string          // users online on other nodes; nil: none
	gone      map[string]time.Time     // in a cluster: calls ended lately, by id
	here      []string                 // in a cluster: "id/user" with a session here at the last look
	// watchedElsewhere is who watches whom on other nodes; nil: none.
	watchedElsewhere func() map[string][]string
}

// New returns a running bridge; it registers itself with the hub as the
// on-demand source of users/ and calls/ streams. Close it when done.
func New(o Options) *Bridge {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	answer := o.AnswerTimeout
	if answer <= 0 {
		answer = 9 * time.Second
	}
	b := &Bridge{
		cfg: o.Config.withDefaults(), hub: o.Hub, store: o.Accounts, sessions: o.Sessions, answer: answer, log: log,
		feeds: map[string][]*feed{}, online: map[string]bool{}, leaving: map[string]*time.Timer{},
		calls: map[string]*call{}, inCall: map[string]string{}, requested: map[string]*watchRequest{},
		watchers: map[string][]string{}, shown: map[string][]string{}, cameras: map[string]bool{}, ended: map[string]uint64{}, onSetup: o.OnSetup,
		asks: map[string]*ask{}, asking: map[consentKey]*ask{}, verdicts: map[consentKey]verdict{}, gone: map[string]time.Time{},
		epoch: strconv.FormatInt(time.Now().UnixMilli(), 36),
	}
	b.placed, b.rung = newRates(b.cfg.CallsPerMinute), newRates(b.cfg.RingsPerMinute)
	ctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.hub.AddSource(usersPrefix, watchSource{b})
	b.hub.AddSource(callsPrefix, callSource{b})
	b.wg.Go(func() { b.monitor(ctx) })
	b.wg.Go(func() { b.checkFeeds(ctx) })
	return b
}

// Close ends every event feed and call and stops the background work.
// Feeds go first, so that an HTTP shutdown waiting for them is not held
// up by the calls. Every call returns once all of it is done.
func (b *Bridge) Close() {
	b.closeOnce.Do(b.close)
}

func (b *Bridge) close() {
	b.mu.Lock()
	b.closed = true
	for _, fs := range b.feeds {
		for _, f := range fs {
			f.kick()
		}
	}
	ids := make([]string, 0, len(b.calls))
	for id, c := range b.calls {
		if b.cluster() != nil {
			// The cluster's calls go on without this node: the other
			// nodes keep their deadlines.
			if c.ring != nil {
				c.ring.Stop()
			}
			continue
		}
		ids = append(ids, id)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { b.end(id, always(EndShutdown)) })
	}
	wg.Wait()
	b.stop()
	b.wg.Wait()
	b.mu.Lock()
	for _, t := range b.leaving {
		t.Stop()
	}
	for _, r := range b.requested {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
	b.mu.Unlock()
}

// Stats is a snapshot of the bridge, for metrics.
type Stats struct {
	// Ringing and Active count current calls (in a cluster, those placed
	// on this node: the nodes' counts add up to the cluster's).
	Ringing, Active int
	// Feeds counts open event feeds; Online the users online.
	Feeds, Online int
	// Started counts calls placed (refused ones included); Ended counts
	// ended calls by reason.
	Started uint64
	Ended   map[string]uint64
}

// Stats returns the bridge's counts.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := Stats{Feeds: b.nfeeds, Online: len(b.online), Started: b.started.Load(), Ended: maps.Clone(b.ended)}
	clustered := b.cluster() != nil
	for _, c := range b.calls {
		if clustered && c.ring == nil {
			continue // placed on another node, which counts it
		}
		if c.State == StateRinging {
			st.Ringing++
		} else {
			st.Active++
		}
	}
	return st
}

// Online reports whether user has the app open (an event feed), for the
// user list.
func (b *Bridge) Online(user string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.online[user]
}

// OnlineUsers lists the users who have the app open here (an event
// feed), in no particular order.
func (b *Bridge) OnlineUsers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.online))
	for u, on := range b.online {
		if on {
			out = append(out, u)
		}
	}
	return out
}

// StreamInfo tells auth.Authorize who takes part in the call of a
// calls/{id}/{user} stream; other names get the zero value.
func (b *Bridge) StreamInfo(ctx context.Context, name string) auth.StreamInfo {
	rest, ok := strings.CutPrefix(name, callsPrefix)
	if !ok {
		return auth.StreamInfo{}
	}
	id, _, _ := strings.Cut(rest, "/")
	c, ok, err := b.knownCall(ctx, id)
	if err != nil {
		b.log.Warn("call look-up failed: its streams are refused meanwhile", "call", id, "err", err)
	}
	if !ok {
		return auth.StreamInfo{}
	}
	return auth.StreamInfo{Caller: c.Caller, Callee: c.Callee}
}

// monitor runs the periodic checks until ctx ends.
func (b *Bridge) monitor(ctx context.Context) {
	t := time.NewTicker(monitorEvery)
	defer t.Stop()
	swept := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			watching, inCalls := b.look()
			b.checkWatchers(watching)
			b.checkCameras()
			b.checkCalls(now, inCalls)
			if now.Sub(swept) >= time.Minute {
				b.placed.sweep(now)
				b.rung.sweep(now)
				swept = now
			}
		}
	}
}

// look goes over the running sessions once: who watches each user
// (user → viewers), and who has a session in which call ("id/user").
func (b *Bridge) look() (watching map[string][]string, inCalls map[string]bool) {
	watching, inCalls = map[string][]string{}, map[string]bool{}
	b.sessions.Each(func(protocol, name, owner string) {
		who, _, _ := strings.Cut(owner, ":") // a key's owner is "user:keyID"
		if rest, ok := strings.CutPrefix(name, callsPrefix); ok {
			id, _, _ := strings.Cut(rest, "/")
			inCalls[id+"/"+who] = true
			return
		}
		u, ok := strings.CutPrefix(name, usersPrefix)
		// Another node pulling the stream for its own viewers is not a
		// person watching.
		if !ok || protocol != "whep" || owner == "" || cluster.IsPeerOwner(owner) {
			return
		}
		if !slices.Contains(watching[u], who) {
			watching[u] = append(watching[u], who)
		}
	})
	return watching, inCalls
}

// checkWatchers tells each user with a page here who watches them (now,
// from look, and in a cluster on the other nodes too), when that changed
// since their pages were last told (in hello or a watchers event).
// People without a page here are told nothing: hello tells a page that
// opens, and in a cluster this node merges the other nodes' viewers only
// for pages here, so an event for anyone else would name only this
// node's viewers, and a page resuming elsewhere would get it replayed.
func (b *Bridge) checkWatchers(now map[string][]string) {
	for _, who := range now {
		slices.Sort(who)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watchers = now
	var elsewhere map[string][]string
	if b.watchedElsewhere != nil {
		elsewhere = b.watchedElsewhere()
	}
	next := make(map[string][]string, len(b.feeds))
	for u := range b.feeds {
		if who := mergeSorted(now[u], elsewhere[u]); len(who) > 0 {
			next[u] = who
		}
	}
	for u, who := range next {
		if !slices.Equal(b.shown[u], who) {
			b.emitLocked(u, "watchers", map[string]any{"stream": usersPrefix + u, "viewers": who})
		}
	}
	for u := range b.shown {
		if _, still := next[u]; !still && len(b.feeds[u]) > 0 {
			b.emitLocked(u, "watchers", map[string]any{"stream": usersPrefix + u, "viewers": []string{}})
		}
	}
	b.shown = next
}

// watchersOfLocked lists who watches user on any node, sorted. b.mu must
// be held.
func (b *Bridge) watchersOfLocked(user string) []string {
	who := b.watchers[user]
	if b.watchedElsewhere != nil {
		who = mergeSorted(who, b.watchedElsewhere()[user])
	}
	return who
}

// mergeSorted returns the sorted union of two sorted lists.
func mergeSorted(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// checkCameras tells everyone whose camera went on or off (users/{u}
// live or not) since the last look, with a presence event that carries
// "publishing", so that people lists follow at once.
func (b *Bridge) checkCameras() {
	now := map[string]bool{}
	for _, st := range b.hub.Live(usersPrefix) {
		now[strings.TrimPrefix(st.Name, usersPrefix)] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := func(u string, on bool) {
		b.emitLocked("", "presence", map[string]any{"user": u, "online": b.online[u], "publishing": on})
	}
	for u := range now {
		if !b.cameras[u] {
			changed(u, true)
		}
	}
	for u := range b.cameras {
		if !now[u] {
			changed(u, false)
		}
	}
	b.cameras = now
}
