package stream

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Publication is a publisher's hold on a stream name. Close it when the
// publisher leaves.
type Publication struct {
	hub    *Hub
	entry  *entry
	tracks []*Track // as in entry.tracks
	once   sync.Once
}

// checkTracks validates a publisher's tracks and returns them in the
// hub's order: audio first, then video in the given order.
func checkTracks(tracks []TrackInfo) ([]TrackInfo, error) {
	if len(tracks) == 0 {
		return nil, errors.New("stream: publish needs at least one track")
	}
	var audio, video []TrackInfo
	layers := map[string]bool{}
	for i, info := range tracks {
		switch info.Kind {
		case Audio:
			if len(audio) > 0 || info.Layer != "" {
				return nil, fmt.Errorf("stream: publish: track %d: one audio track at most, without layers", i)
			}
			audio = append(audio, info)
		case Video:
			if layers[info.Layer] || (len(video) > 0 && (info.Layer == "" || video[0].Layer == "")) {
				return nil, fmt.Errorf("stream: publish: track %d: video is one track, or one per distinct simulcast layer", i)
			}
			if len(video) > 0 && !video[0].Codec.Equal(info.Codec) {
				return nil, fmt.Errorf("stream: publish: track %d: simulcast layers of different codecs", i)
			}
			layers[info.Layer] = true
			video = append(video, info)
		default:
			return nil, fmt.Errorf("stream: publish: track %d has invalid kind %s", i, info.Kind)
		}
	}
	if len(video) > MaxLayers {
		return nil, fmt.Errorf("stream: publish: %d simulcast layers, at most %d", len(video), MaxLayers)
	}
	return append(audio, video...), nil
}

// Publish makes the caller the publisher of name with the given tracks (at
// most one audio; one video, or up to MaxLayers simulcast layers of one
// video). It fails with an error wrapping ErrInvalidName,
// ErrPublisherExists if a live publisher holds the name, or ErrClosed.
//
// If the name's previous publisher left less than OrphanTimeout ago, each
// track whose kind, layer and codec (Codec.Equal) are unchanged is reused:
// the same *Track, its subscribers continuing with continuous sequence
// numbers and timestamps. Tracks whose codec changed or that are no
// longer published end their subscriptions and are replaced.
//
// Publish wakes Acquire calls waiting for the name.
func (h *Hub) Publish(name string, tracks []TrackInfo) (*Publication, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	infos, err := checkTracks(tracks)
	if err != nil {
		return nil, err
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
	kept := make([]*Track, 0, len(infos))
	for _, info := range infos {
		var t *Track
		for _, old := range e.tracks {
			if old.kind == info.Kind && old.layer == info.Layer && old.codec.Equal(info.Codec) && !slices.Contains(reused, old) {
				t = old
				break
			}
		}
		if t != nil {
			t.rebind(info.RequestKeyframe)
			reused = append(reused, t)
		} else {
			t = newTrack(h, e, info)
			e.nextIdx++
		}
		kept = append(kept, t)
	}
	for _, old := range e.tracks {
		if !slices.Contains(reused, old) {
			e.log.Info("track ended by new publisher", "kind", old.kind, "layer", old.layer, "codec", old.codec.MimeType)
			old.end()
			h.retireTrack(old)
		}
	}
	e.tracks = kept
	p.tracks = kept
	e.pub = p
	e.publisherChanged()
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
	e.log.Info("publisher joined", "tracks", len(kept), "reused", len(reused))
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

// Track returns the publication's first track of kind k (for video of a
// simulcast stream, its first layer), or nil if that kind is not
// published.
func (p *Publication) Track(k Kind) *Track {
	if p == nil {
		return nil
	}
	for _, t := range p.tracks {
		if t.kind == k {
			return t
		}
	}
	return nil
}

// Layer returns the publication's video track of simulcast layer rid, or
// nil.
func (p *Publication) Layer(rid string) *Track {
	if p == nil {
		return nil
	}
	for _, t := range p.tracks {
		if t.kind == Video && t.layer == rid {
			return t
		}
	}
	return nil
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
	e.publisherChanged()
	for _, t := range e.tracks {
		t.unbind()
	}
	e.log.Info("publisher left")
	h.maybeRemove(e)
	if h.streams[e.name] == e {
		h.startOrphan(e, hold)
	}
}
