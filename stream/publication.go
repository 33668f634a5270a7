package stream

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Publication is a publisher's hold on a stream name. Close it when the
// publisher leaves.
type Publication struct {
	hub    *Hub
	entry  *entry
	tracks [numKinds]*Track
	once   sync.Once
}

// Publish makes the caller the publisher of name with the given tracks (at
// most one per kind). It fails with an error wrapping ErrInvalidName,
// ErrPublisherExists if a live publisher holds the name, or ErrClosed.
//
// If the name's previous publisher left less than OrphanTimeout ago, each
// track whose codec is unchanged (Codec.Equal) is reused: the same *Track,
// its subscribers continuing with continuous sequence numbers and
// timestamps. Tracks whose codec changed or whose kind is no longer
// published end their subscriptions and are replaced.
//
// Publish wakes Acquire calls waiting for the name.
func (h *Hub) Publish(name string, tracks []TrackInfo) (*Publication, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	var infos [numKinds]*TrackInfo
	if len(tracks) == 0 {
		return nil, errors.New("stream: publish needs at least one track")
	}
	for i := range tracks {
		k := tracks[i].Kind
		if !k.valid() {
			return nil, fmt.Errorf("stream: publish: track %d has invalid kind %s", i, k)
		}
		if infos[k-1] != nil {
			return nil, fmt.Errorf("stream: publish: more than one %s track", k)
		}
		infos[k-1] = &tracks[i]
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	e := h.lookup(name, true)
	if e.pub != nil {
		h.mu.Unlock()
		return nil, ErrPublisherExists
	}
	h.stopOrphan(e)
	p := &Publication{hub: h, entry: e}
	var reused []*Track
	for i, info := range infos {
		old := e.tracks[i]
		switch {
		case old != nil && info != nil && old.codec.Equal(info.Codec):
			old.rebind(info.RequestKeyframe)
			reused = append(reused, old)
		case old != nil:
			e.log.Info("track ended by new publisher", "kind", old.kind, "old", old.codec.MimeType, "published", info != nil)
			old.end()
			h.retireTrack(old)
			e.tracks[i] = nil
		}
		if info != nil && e.tracks[i] == nil {
			e.tracks[i] = newTrack(h, e, *info)
		}
		p.tracks[i] = e.tracks[i]
	}
	e.pub = p
	e.peak = e.leases
	e.srcFailed = false
	var startedAfter time.Duration
	if e.wait != nil {
		close(e.wait.ch)
		e.wait = nil
		if e.srcRunning {
			startedAfter = time.Since(e.srcStart)
		}
	}
	e.log.Info("publisher joined", "tracks", len(tracks), "reused", len(reused))
	h.mu.Unlock()
	if startedAfter > 0 && h.obs != nil {
		h.obs.OnDemandLive(name, startedAfter)
	}

	// Viewers that stayed need the new publisher's keyframe.
	for _, t := range reused {
		if t.kind == Video && t.subscribers() > 0 {
			t.requestKeyframe()
		}
	}
	return p, nil
}

// Track returns the publication's track of kind k, or nil if that kind is
// not published.
func (p *Publication) Track(k Kind) *Track {
	if p == nil || !k.valid() {
		return nil
	}
	return p.tracks[k-1]
}

// Close ends the publication and frees the name; it is idempotent. The
// stream's tracks and subscriptions stay for OrphanTimeout, waiting for a
// new publisher. The caller must not Write to its tracks after Close.
func (p *Publication) Close() {
	if p == nil || p.hub == nil {
		return
	}
	p.once.Do(func() { p.close(p.hub.cfg.OrphanTimeout) })
}

// CloseHolding is Close for a publisher that is expected back: the
// stream's viewers stay attached for hold instead of OrphanTimeout (a
// camera that dropped, while its source redials it). A publisher that
// comes back with the same codecs within hold continues their tracks.
func (p *Publication) CloseHolding(hold time.Duration) {
	if p == nil || p.hub == nil {
		return
	}
	if hold <= 0 {
		hold = p.hub.cfg.OrphanTimeout
	}
	p.once.Do(func() { p.close(hold) })
}

func (p *Publication) close(hold time.Duration) {
	h, e := p.hub, p.entry
	h.mu.Lock()
	peak := -1
	defer func() {
		h.mu.Unlock()
		if peak >= 0 && h.obs != nil {
			h.obs.StreamEnded(e.name, peak)
		}
	}()
	if e.pub != p {
		return // hub closed, or stream already forgotten
	}
	peak, e.peak = e.peak, e.leases
	e.pub = nil
	for _, t := range e.tracks {
		if t != nil {
			t.unbind()
		}
	}
	e.log.Info("publisher left")
	h.maybeRemove(e)
	if h.streams[e.name] == e {
		h.startOrphan(e, hold)
	}
}
