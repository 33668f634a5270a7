package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Source is an on-demand media source (an RTSP camera, a user's page).
//
// The hub calls Start(ctx, name) on the first Acquire of a name the
// source covers while the name is not live; ctx is that Acquire's (the
// first viewer's request): it bounds what Start does itself, such as a
// database look-up, not what Start sets going, which outlives it. Start
// must not block long, and the source later calls Hub.Publish(name, ...)
// once it has media (or Hub.SourceFailed if it cannot). A Start error
// that wraps ErrSourceUnavailable means a service the source needs
// failed, not that the stream cannot be had. The hub calls Stop(name) once for every
// successful Start: OnDemandGrace after the last Lease is released (or
// the source's own grace, see GraceSource), at once if the source
// reported failure and nobody waits any more, or on
// Hub.Close. The source then closes its Publication. If Start returns an
// error, Stop is not called for that attempt. Start and Stop are called
// without hub locks held, so they may call back into the hub.
type Source interface {
	Start(ctx context.Context, name string) error
	Stop(name string)
}

// GraceSource is a Source with a grace period of its own: the hub stops
// its streams Grace() after their last lease is released, instead of
// after Config.OnDemandGrace (a person's camera should go off sooner than
// an RTSP camera is hung up on).
type GraceSource interface {
	Source
	Grace() time.Duration
}

// sourceEntry is one AddSource registration.
type sourceEntry struct {
	prefix string
	src    Source
}

// AddSource makes src the on-demand source of every name starting with
// prefix (e.g. "devices/"); the longest matching prefix wins. Adding a
// prefix again replaces its source; a nil src removes it.
func (h *Hub) AddSource(prefix string, src Source) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.sources = slices.DeleteFunc(h.sources, func(s sourceEntry) bool { return s.prefix == prefix })
	if src != nil {
		h.sources = append(h.sources, sourceEntry{prefix, src})
	}
	slices.SortStableFunc(h.sources, func(a, b sourceEntry) int { return len(b.prefix) - len(a.prefix) })
}

// SourceOf returns the source AddSource registered for exactly prefix,
// or nil (so that a source can be wrapped in another).
func (h *Hub) SourceOf(prefix string) Source {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sources {
		if s.prefix == prefix {
			return s.src
		}
	}
	return nil
}

// sourceFor returns the source covering name, or nil. h.mu must be held.
func (h *Hub) sourceFor(name string) Source {
	for _, s := range h.sources {
		if strings.HasPrefix(name, s.prefix) {
			return s.src
		}
	}
	return nil
}

// SourceFailed reports that the source of name failed (err may be nil).
// Acquire calls waiting for name fail at once with a *NotLiveError whose
// Reason is err's text. The source is still stopped with Stop: at once if
// nobody waits for or watches the stream, else when the last lease is
// released. A later Acquire after that starts it again.
func (h *Hub) SourceFailed(name string, err error) {
	if err == nil {
		err = errors.New("on-demand source failed")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.streams[name]
	if h.closed || e == nil {
		return
	}
	if errors.Is(err, ErrSourceEnded) {
		e.log.Info("on-demand source ended", "reason", err)
	} else {
		e.log.Warn("on-demand source failed", "err", err)
	}
	if e.wait != nil {
		e.wait.err = err
		close(e.wait.ch)
		e.wait = nil
		if h.obs != nil {
			go h.obs.OnDemandFailed(name, err)
		}
	}
	if e.srcRunning {
		e.srcFailed = true
		h.demandChanged(e)
	}
}

// Viewers returns how many leases name has: viewers watching it or
// waiting for it to go live.
func (h *Hub) Viewers(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.streams[name]; e != nil {
		return e.leases
	}
	return 0
}

// Status is a snapshot of one stream.
type Status struct {
	Name string
	// Live reports whether a publisher holds the stream now.
	Live bool
	// Viewers counts leases: viewers watching or waiting.
	Viewers int
	// Tracks are the codecs of the stream's tracks, audio then video.
	Tracks []TrackStatus
}

// TrackStatus is one track of a Status.
type TrackStatus struct {
	Kind  Kind
	Codec Codec
	// Layer is the simulcast layer (rid) of a video track, "" if none.
	Layer string
}

// IsLive reports whether name has a publisher now.
func (h *Hub) IsLive(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.streams[name]
	return e != nil && e.pub != nil
}

// Live returns the live streams whose names start with prefix ("" for
// all), in no particular order.
func (h *Hub) Live(prefix string) []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Status
	for name, e := range h.streams {
		if e.pub == nil || !strings.HasPrefix(name, prefix) {
			continue
		}
		st := Status{Name: name, Live: true, Viewers: e.leases}
		for _, t := range e.tracks {
			st.Tracks = append(st.Tracks, TrackStatus{Kind: t.Kind(), Codec: t.Codec(), Layer: t.layer})
		}
		out = append(out, st)
	}
	return out
}

// Lease is a viewer's demand for a stream, returned by Hub.Acquire.
type Lease struct {
	hub   *Hub
	entry *entry
	once  sync.Once
}

// Acquire registers demand (a viewer) for name and returns once the stream
// is live: at once if it is; if not and a Source covers the name, after
// starting the source (once, not per viewer) and waiting up to the shorter
// of ctx's deadline and OnDemandTimeout for Publish; else at once with a
// *NotLiveError. It fails with an error wrapping ErrInvalidName for a bad
// name and with ErrClosed after Hub.Close. A failed Acquire leaves no
// demand behind.
func (h *Hub) Acquire(ctx context.Context, name string) (*Lease, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	e := h.lookup(name, true)
	e.leases++
	e.peak = max(e.peak, e.leases)
	if e.grace != nil { // a new viewer within the grace period: keep the source
		e.grace.Stop()
		e.grace = nil
		e.srcGen++
	}
	lease := &Lease{hub: h, entry: e}
	if e.pub != nil && !e.stopping {
		h.mu.Unlock()
		return lease, nil
	}
	// While its source is being stopped, a live stream may end any moment:
	// start the source again and wait, as for a stream not live; once Stop
	// returns, waiters go ahead if the stream is still live.
	var start Source
	var gen uint64
	if !e.srcRunning {
		start = h.sourceFor(name)
		if start == nil {
			e.leases--
			h.maybeRemove(e)
			h.mu.Unlock()
			return nil, notLive(name, "no publisher", nil)
		}
		e.src, e.srcRunning, e.srcFailed = start, true, false
		e.srcStart = time.Now()
		e.srcGen++
		gen = e.srcGen
	}
	if e.wait == nil {
		e.wait = &waiter{ch: make(chan struct{})}
	}
	w := e.wait
	h.mu.Unlock()

	if start != nil {
		e.log.Info("starting on-demand source")
		if h.obs != nil {
			h.obs.OnDemandStarted(name)
		}
		if err := start.Start(ctx, name); err != nil {
			h.startFailed(e, gen, err)
		}
	}
	return h.await(ctx, lease, w)
}

// startFailed fails the waiters of a Start that returned err; the source is
// not running, so Stop is not due.
func (h *Hub) startFailed(e *entry, gen uint64, err error) {
	if h.obs != nil {
		h.obs.OnDemandFailed(e.name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e.log.Warn("on-demand source did not start", "err", err)
	if h.closed || e.srcGen != gen || !e.srcRunning {
		return
	}
	e.srcRunning, e.src = false, nil
	if e.wait != nil && e.pub == nil {
		e.wait.err = err
		close(e.wait.ch)
		e.wait = nil
	}
}

// await waits for w, the timeout or ctx, and undoes the lease on failure.
func (h *Hub) await(ctx context.Context, lease *Lease, w *waiter) (*Lease, error) {
	name := lease.entry.name
	timeout := h.cfg.OnDemandTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), 0)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case <-w.ch:
		if w.err == nil {
			return lease, nil
		}
		err = notLive(name, w.err.Error(), w.err)
		if errors.Is(w.err, ErrClosed) {
			err = ErrClosed
		}
	case <-timer.C:
		err = notLive(name, fmt.Sprintf("on-demand source did not go live within %s", timeout.Round(time.Millisecond)), context.DeadlineExceeded)
		if h.obs != nil {
			h.obs.OnDemandTimedOut(name)
		}
	case <-ctx.Done():
		reason := "request canceled while waiting for the on-demand source"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = fmt.Sprintf("on-demand source did not go live within %s", timeout.Round(time.Millisecond))
		}
		err = notLive(name, reason, ctx.Err())
	}
	lease.Release()
	return nil, err
}

// Tracks returns the stream's current tracks, one per kind, audio then
// video (for a simulcast stream, its first layer: see Layers). It is
// empty while the stream has none (before the first publish, or after the
// orphan timeout).
func (l *Lease) Tracks() []*Track {
	if l == nil || l.hub == nil {
		return nil
	}
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	var out []*Track
	for _, t := range l.entry.tracks {
		if len(out) == 0 || out[len(out)-1].kind != t.kind {
			out = append(out, t)
		}
	}
	return out
}

// Viewers returns how many leases the stream has: viewers watching it or
// waiting for it.
func (l *Lease) Viewers() int {
	if l == nil || l.hub == nil {
		return 0
	}
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	return l.entry.leases
}

// Live reports whether the stream has a publisher now.
func (l *Lease) Live() bool {
	if l == nil || l.hub == nil {
		return false
	}
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	return l.entry.pub != nil
}

// Changed returns a channel that is closed when the stream's publisher
// next joins or leaves (or the hub closes), for viewers that tell their
// players the stream ended or is back.
func (l *Lease) Changed() <-chan struct{} {
	if l == nil || l.hub == nil {
		return nil
	}
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	e := l.entry
	if l.hub.closed {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

// OnPublisherChange registers f to run each time the stream's publisher
// joins or leaves, and when the hub closes: later, in a goroutine of the
// hub's that runs the stream's other watchers too (f should not block
// for long). Stop unregisters f; f may still run once after it if a
// change was under way. It is the Changed of a viewer that keeps no
// goroutine waiting.
func (l *Lease) OnPublisherChange(f func()) (stop func()) {
	if l == nil || l.hub == nil {
		return func() {}
	}
	h := l.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	e := l.entry
	if h.closed {
		go f()
		return func() {}
	}
	if e.watchers == nil {
		e.watchers = make(map[uint64]func())
	}
	e.nextWatch++
	id := e.nextWatch
	e.watchers[id] = f
	return func() {
		h.mu.Lock()
		delete(e.watchers, id)
		h.mu.Unlock()
	}
}

// Layers returns the stream's video tracks: one per simulcast layer, in
// the publisher's order, or the one video track (nil without video).
func (l *Lease) Layers() []*Track {
	if l == nil || l.hub == nil {
		return nil
	}
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	var out []*Track
	for _, t := range l.entry.tracks {
		if t.kind == Video {
			out = append(out, t)
		}
	}
	return out
}

// Release ends this demand; it is idempotent and harmless after Hub.Close.
// When the last lease of a stream whose source the hub started is
// released, the hub calls Source.Stop after OnDemandGrace unless a new
// Acquire comes first.
func (l *Lease) Release() {
	if l == nil || l.hub == nil {
		return
	}
	l.once.Do(func() {
		h, e := l.hub, l.entry
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.closed || e.leases <= 0 {
			return
		}
		e.leases--
		if e.leases == 0 {
			e.wait = nil // every waiter holds a lease: nobody is left waiting
		}
		h.demandChanged(e)
		h.maybeRemove(e)
	})
}

// demandChanged schedules the stop of e's running source once nothing
// needs it: after OnDemandGrace, or at once if the source failed.
// h.mu must be held.
func (h *Hub) demandChanged(e *entry) {
	if !e.srcRunning || e.leases > 0 || e.grace != nil {
		return
	}
	e.srcGen++
	gen := e.srcGen
	d := h.cfg.OnDemandGrace
	if g, ok := e.src.(GraceSource); ok {
		d = max(g.Grace(), 0)
	}
	if e.srcFailed {
		d = 0
	}
	e.grace = time.AfterFunc(d, func() { h.graceExpired(e, gen) })
}

// graceExpired stops e's source if no Acquire came during the grace period.
func (h *Hub) graceExpired(e *entry, gen uint64) {
	h.mu.Lock()
	if h.closed || e.srcGen != gen || !e.srcRunning || e.leases > 0 {
		h.mu.Unlock()
		return
	}
	src := e.src
	e.grace, e.src, e.srcRunning, e.srcFailed = nil, nil, false, false
	e.stopping = true
	h.maybeRemove(e)
	h.mu.Unlock()
	e.log.Info("stopping on-demand source", "reason", "no viewers")
	src.Stop(e.name)
	h.mu.Lock()
	defer h.mu.Unlock()
	e.stopping = false
	if e.wait != nil && e.pub != nil && !h.closed {
		// A viewer came during Stop and the stream is still live (the
		// source kept it, or a new start published already).
		close(e.wait.ch)
		e.wait = nil
	}
}
