package stream

import (
	"log/slog"
	"sync"
	"time"
)

// Hub maps stream names to streams: their publisher, tracks, viewers'
// demand and on-demand sources. Create it with NewHub; it is safe for
// concurrent use.
type Hub struct {
	cfg Config
	log *slog.Logger
	// base is the origin of packet arrival times (item.at), one for all
	// tracks, so that a subscription moving between a stream's layers
	// can tell how much time passed.
	base time.Time
	over overload

	// mu guards all following fields, and every entry's fields.
	mu      sync.Mutex
	closed  bool
	streams map[string]*entry
	sources []sourceEntry // longest prefix first
	retired Totals        // counters of tracks no longer held
	obs     Observer      // set before use; nil: none
	batch   Batcher       // set before use; noBatch: none
	// fans are the streams' writers; watching says whether the
	// watchdog runs (see fanout.go); retiredStalls counts the stalls of
	// writers no longer held.
	fans          map[*fanout]struct{}
	watching      bool
	retiredStalls uint64
}

// entry is the hub's state for one stream name. All fields are guarded by
// Hub.mu.
type entry struct {
	name string
	log  *slog.Logger
	pub  *Publication
	// tracks are the stream's tracks, audio first, then video (one, or one
	// per simulcast layer in the publisher's order); kept while orphaned.
	tracks  []*Track
	nextIdx uint16  // the next new track's idx
	fan     *shards // the writers of the stream's tracks, from the first on

	orphan    *time.Timer
	orphanGen uint64

	// Demand and on-demand source state (see ondemand.go).
	leases     int
	src        Source // the source this hub started, while srcRunning
	srcRunning bool   // Start succeeded (or is in progress) and Stop is due
	srcFailed  bool   // the running source reported failure
	stopping   bool   // Stop of the source is under way: its stream may end
	srcGen     uint64 // invalidates a pending Start result or grace timer
	grace      *time.Timer
	wait       *waiter       // Acquire callers waiting for the stream to go live
	srcStart   time.Time     // when the running source was started
	peak       int           // most leases while the current publisher is live
	changed    chan struct{} // closed when a publisher joins or leaves; nil until asked for
	// watchers run when a publisher joins or leaves (Lease.OnPublisherChange).
	watchers  map[uint64]func()
	nextWatch uint64
}

// publisherChanged wakes whoever waits on e's Lease.Changed and runs its
// watchers, one after the other in a goroutine of their own (they may
// send, and a stream's viewers are many: one goroutine per change rather
// than one per viewer for the stream's life). h.mu must be held.
func (e *entry) publisherChanged() {
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
	if len(e.watchers) == 0 {
		return
	}
	fns := make([]func(), 0, len(e.watchers))
	for _, f := range e.watchers {
		fns = append(fns, f)
	}
	go func() {
		for _, f := range fns {
			f()
		}
	}()
}

// waiter is closed once the stream goes live or fails to; err says which.
type waiter struct {
	ch  chan struct{}
	err error
}

// NewHub returns a hub configured by cfg (zero fields take their defaults)
// that logs to log (nil discards).
func NewHub(cfg Config, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		cfg:     cfg.withDefaults(),
		log:     log,
		base:    time.Now(),
		streams: make(map[string]*entry),
		batch:   noBatch{},
		fans:    make(map[*fanout]struct{}),
	}
	h.over.lag = int64(h.cfg.OverloadLag)
	h.over.hold = min(overloadHoldFactor*h.over.lag, int64(maxOverloadHold))
	return h
}

// Close ends all subscriptions and publications, fails pending Acquire
// calls with ErrClosed, and stops the sources the hub started. It is
// idempotent. Later calls on the hub fail with ErrClosed or do nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	type stop struct {
		name string
		src  Source
	}
	var stops []stop
	type ended struct {
		name string
		peak int
	}
	var live []ended
	for name, e := range h.streams {
		if e.pub != nil {
			live = append(live, ended{name, e.peak})
		}
		e.pub = nil
		e.publisherChanged()
		h.endTracks(e)
		h.stopTimers(e)
		if e.wait != nil {
			e.wait.err = ErrClosed
			close(e.wait.ch)
			e.wait = nil
		}
		if e.srcRunning {
			stops = append(stops, stop{name, e.src})
			e.srcRunning = false
		}
		h.forget(e)
	}
	h.sources = nil
	h.mu.Unlock()
	if h.obs != nil {
		for _, l := range live {
			h.obs.StreamEnded(l.name, l.peak)
		}
	}
	for _, s := range stops {
		h.log.Info("stopping on-demand source", "stream", s.name, "reason", "hub closed")
		s.src.Stop(s.name)
	}
}

// lookup returns the entry for name, creating it if create is set.
// h.mu must be held.
func (h *Hub) lookup(name string, create bool) *entry {
	e := h.streams[name]
	if e == nil && create {
		e = &entry{name: name, log: h.log.With("stream", name)}
		h.streams[name] = e
	}
	return e
}

// maybeRemove forgets e when nothing uses it: no publisher, no leases, no
// running source and no subscriptions. h.mu must be held.
func (h *Hub) maybeRemove(e *entry) {
	if e == nil || h.streams[e.name] != e || e.pub != nil || e.leases > 0 || e.srcRunning {
		return
	}
	for _, t := range e.tracks {
		if t.subscribers() > 0 {
			return
		}
	}
	h.endTracks(e)
	h.stopTimers(e)
	h.forget(e)
	e.log.Debug("stream removed")
}

// forget removes e from the hub and stops its writer. h.mu must be held.
func (h *Hub) forget(e *entry) {
	delete(h.streams, e.name)
	if e.fan != nil {
		h.retiredStalls += e.fan.stalls()
		for _, f := range e.fan.w {
			h.unwatch(f)
		}
		e.fan = nil
	}
}

// endTracks ends e's tracks and their subscriptions. h.mu must be held.
func (h *Hub) endTracks(e *entry) {
	for _, t := range e.tracks {
		t.end()
		h.retireTrack(t)
	}
	e.tracks = nil
}

// stopTimers cancels e's orphan and grace timers. h.mu must be held.
func (h *Hub) stopTimers(e *entry) {
	if e.orphan != nil {
		e.orphan.Stop()
		e.orphan = nil
	}
	e.orphanGen++
	if e.grace != nil {
		e.grace.Stop()
		e.grace = nil
	}
}

// startOrphan keeps e's tracks and subscriptions for hold after its
// publisher left. h.mu must be held.
func (h *Hub) startOrphan(e *entry, hold time.Duration) {
	if e.orphan != nil {
		e.orphan.Stop()
	}
	e.orphanGen++
	gen := e.orphanGen
	e.orphan = time.AfterFunc(hold, func() { h.orphanExpired(e, gen, hold) })
}

// stopOrphan cancels a pending orphan timeout. h.mu must be held.
func (h *Hub) stopOrphan(e *entry) {
	if e.orphan != nil {
		e.orphan.Stop()
		e.orphan = nil
	}
	e.orphanGen++
}

// orphanExpired ends the subscriptions of a stream whose publisher did not
// come back within hold, and forgets the stream if nothing else
// holds it.
func (h *Hub) orphanExpired(e *entry, gen uint64, hold time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || e.orphanGen != gen || h.streams[e.name] != e || e.pub != nil {
		return
	}
	e.orphan = nil
	e.log.Info("publisher did not come back, ending viewers", "after", hold)
	h.endTracks(e)
	h.maybeRemove(e)
}
