package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// item is what Track.Write queues for each subscriber: a small value, so
// fan-out allocates nothing per subscriber.
type item struct {
	p        *rtp.Packet
	at       int64  // arrival, nanoseconds since Hub.base (monotonic)
	epoch    uint32 // publisher generation, see Track.rebind
	keyframe bool   // p starts a keyframe (video codecs KeyframeStart knows)
	layer    uint16 // the track's id in its stream (Track.idx)
	// ps, on a keyframe start that lacks parameter sets, are the ones a
	// subscription starting there sends first (see paramsets.go).
	ps *paramSets
}

// Track is one media track of a stream. It outlives a publisher that leaves
// and comes back with the same codec (see Hub.Publish), so subscribers keep
// their Track across a change of publisher.
type Track struct {
	hub   *Hub
	entry *entry
	fan   *shards // the stream's writers
	kind  Kind
	codec Codec
	vc    videoCodec
	gop   bool // keyframes can be detected: cache them and gate joiners on them
	// params: H.264/H.265, whose parameter sets the track remembers;
	// psInit are those of the SDP's sprop parameters (nil if none).
	params bool
	psInit *paramSets
	rate   uint32
	base   time.Time // Hub.base
	// layer is the simulcast layer (rid) of a video track, "" if none; idx
	// tells the track from the stream's others in a subscription's queue.
	layer string
	idx   uint16

	queueLen   int
	cacheMax   int
	kfInterval time.Duration

	packets, bytes, discarded       atomic.Uint64
	kfSent, kfCoalesced, cacheJoins atomic.Uint64
	frames                          atomic.Uint64 // packets with the marker bit (video frames)
	width, height                   atomic.Uint32 // picture size, as the publisher last said (SetSize)
	rates                           rateMeter

	// mu guards all following fields. Lock order: Hub.mu before mu.
	mu        sync.Mutex
	subs      []*Subscription // copy-on-write: replaced, never modified in place
	epoch     uint32
	live      bool // a publisher is bound
	closed    bool // ended for good: no more subscribers
	requestKF func()
	lastKF    time.Time // when requestKF was last called
	cache     []item    // packets from the latest keyframe on
	cacheOK   bool      // cache starts at a keyframe and nothing was left out
	haveKF    bool      // cacheTS is the timestamp of a keyframe this epoch
	cacheTS   uint32
	ps        *paramSets // the latest parameter sets (params tracks)
	// retiredSubs holds the counters of subscriptions that ended.
	retiredSubs Totals
}

// newTrack returns a live track bound to info's publisher, starting the
// stream's writer if it has none. h.mu must be held.
func newTrack(h *Hub, e *entry, info TrackInfo) *Track {
	if e.fan == nil {
		e.fan = h.newShards(e)
	}
	t := &Track{
		hub:        h,
		entry:      e,
		fan:        e.fan,
		kind:       info.Kind,
		codec:      info.Codec,
		vc:         codecOther,
		rate:       info.Codec.ClockRate,
		base:       h.base,
		layer:      info.Layer,
		idx:        e.nextIdx,
		queueLen:   h.cfg.SubscriberQueue,
		cacheMax:   h.cfg.KeyframeCachePackets,
		kfInterval: h.cfg.KeyframeRequestInterval,
	}
	if info.Kind == Video {
		t.vc = videoCodecOf(info.Codec.MimeType)
		t.gop = t.vc != codecOther
		t.params = tracksParamSets(t.vc)
		t.psInit = paramSetsFromFmtp(t.vc, info.Codec.Fmtp)
		t.ps = t.psInit
	}
	if t.rate == 0 {
		t.rate = 48000
		if info.Kind == Video {
			t.rate = 90000
		}
	}
	t.epoch = 1
	t.live = true
	t.requestKF = info.RequestKeyframe
	return t
}

// Layer returns the track's simulcast layer (rid), "" if it has none.
func (t *Track) Layer() string { return t.layer }

// SetSize records the picture size the publisher sends on this track, as
// the publisher's side reads it from keyframes (the hub does not parse
// codecs' parameter sets); 0 means unknown.
func (t *Track) SetSize(width, height int) {
	t.width.Store(uint32(max(width, 0)))
	t.height.Store(uint32(max(height, 0)))
}

// Size returns the picture size last set by SetSize (0 if unknown).
func (t *Track) Size() (width, height int) {
	return int(t.width.Load()), int(t.height.Load())
}

// Kind returns the track's media kind.
func (t *Track) Kind() Kind { return t.kind }

// Codec returns the track's codec.
func (t *Track) Codec() Codec { return t.codec }

// Write forwards one packet to every subscriber without blocking: it
// queues the packet for the stream's writer (see fanout.go), which hands
// it to the subscribers. When the writer's queue, or a slow subscriber's
// own, is full, the packet is lost for those subscribers, and the drop is
// counted in their SubscriptionStats.
//
// Write is called from one goroutine per track (the publisher's read loop).
// The hub keeps p and shares it read-only among subscribers and the keyframe
// cache: the caller must not modify or reuse p or its Payload after the call.
// Packets written while the track has no publisher (after Publication.Close)
// are discarded; the caller must stop writing once it has closed its
// Publication, since the Track may already serve a new publisher.
func (t *Track) Write(p *rtp.Packet) {
	if p == nil {
		return
	}
	it := item{p: p, at: int64(time.Since(t.base)), layer: t.idx}
	if t.gop {
		it.keyframe = keyframeStart(t.vc, p.Payload)
	}
	carries := t.params && carriesParamSets(t.vc, p.Payload)
	t.mu.Lock()
	if !t.live {
		t.mu.Unlock()
		t.discarded.Add(1)
		return
	}
	it.epoch = t.epoch
	if t.params {
		t.noteParamSets(&it, carries)
	}
	if t.gop {
		t.cachePut(it)
	}
	subs := t.subs
	t.mu.Unlock()

	t.packets.Add(1)
	t.bytes.Add(uint64(len(p.Payload)))
	if p.Marker {
		t.frames.Add(1)
	}
	if len(subs) > 0 {
		t.fan.push(fanItem{it: it, subs: subs})
	}
}

// cachePut adds it to the keyframe cache. A keyframe start with a new
// timestamp starts a new cache (SPS, PPS and IDR of one frame share a
// timestamp); past cacheMax packets the cache is invalid until the next
// keyframe. t.mu must be held.
func (t *Track) cachePut(it item) {
	if it.keyframe && (!t.haveKF || it.p.Timestamp != t.cacheTS) {
		clear(t.cache)
		t.cache = append(t.cache[:0], it)
		t.cacheTS = it.p.Timestamp
		t.haveKF = true
		t.cacheOK = true
		return
	}
	if !t.cacheOK {
		return
	}
	if len(t.cache) >= t.cacheMax {
		clear(t.cache)
		t.cache = t.cache[:0]
		t.cacheOK = false
		return
	}
	t.cache = append(t.cache, it)
}

// resetCache forgets the cached packets. t.mu must be held.
func (t *Track) resetCache() {
	clear(t.cache)
	t.cache = t.cache[:0]
	t.cacheOK = false
	t.haveKF = false
}

// rebind attaches a new publisher: a new epoch, its keyframe callback, an
// empty cache, and only the SDP's parameter sets (those the previous
// publisher sent in-band may not be the new one's). Called by Hub.Publish
// with Hub.mu held.
func (t *Track) rebind(requestKF func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	t.live = true
	t.requestKF = requestKF
	t.lastKF = time.Time{}
	t.resetCache()
	t.ps = t.psInit
}

// unbind detaches the publisher that left; subscribers stay. Called with
// Hub.mu held.
func (t *Track) unbind() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live = false
	t.requestKF = nil
	t.resetCache()
}

// end closes the track for good and ends its subscriptions. Called with
// Hub.mu held.
func (t *Track) end() {
	t.mu.Lock()
	subs := t.subs
	t.subs = nil
	for _, s := range subs {
		t.retiredSubs.add(s.totalsOn(t))
	}
	t.closed = true
	t.live = false
	t.requestKF = nil
	t.resetCache()
	t.cache = nil
	t.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
}

// subscribers returns the number of subscriptions.
func (t *Track) subscribers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

// RequestKeyframe asks the track's publisher for a keyframe, coalesced as
// viewers' requests are (at most one per KeyframeRequestInterval).
func (t *Track) RequestKeyframe() { t.requestKeyframe() }

// requestKeyframe calls the publisher's keyframe callback unless it was
// called less than kfInterval ago, in which case the request is coalesced.
// The callback runs on the caller's goroutine with no lock held.
func (t *Track) requestKeyframe() {
	t.mu.Lock()
	fn := t.requestKF
	if fn == nil || !t.live {
		t.mu.Unlock()
		return
	}
	now := time.Now()
	if !t.lastKF.IsZero() && now.Sub(t.lastKF) < t.kfInterval {
		t.mu.Unlock()
		t.kfCoalesced.Add(1)
		return
	}
	t.lastKF = now
	t.mu.Unlock()
	t.kfSent.Add(1)
	fn()
}

// TrackStats is a snapshot of a track's counters.
type TrackStats struct {
	// Packets and Bytes (payload) written while a publisher was bound.
	Packets, Bytes uint64
	// Discarded counts packets written while no publisher was bound.
	Discarded uint64
	// Subscribers is the current number of subscriptions.
	Subscribers int
	// KeyframeRequestsSent reached the publisher's callback.
	KeyframeRequestsSent uint64
	// KeyframeRequestsCoalesced were absorbed by an earlier request.
	KeyframeRequestsCoalesced uint64
	// CacheJoins counts subscribers started from the keyframe cache.
	CacheJoins uint64
	// CachedPackets is the current size of a valid keyframe cache (0 if none).
	CachedPackets int
	// Epoch counts the publishers this track has served (1 for the first).
	Epoch uint32
	// Live reports whether a publisher is bound.
	Live bool
}

// Stats returns a snapshot of the track's counters.
func (t *Track) Stats() TrackStats {
	t.mu.Lock()
	st := TrackStats{Subscribers: len(t.subs), Epoch: t.epoch, Live: t.live}
	if t.cacheOK {
		st.CachedPackets = len(t.cache)
	}
	t.mu.Unlock()
	st.Packets = t.packets.Load()
	st.Bytes = t.bytes.Load()
	st.Discarded = t.discarded.Load()
	st.KeyframeRequestsSent = t.kfSent.Load()
	st.KeyframeRequestsCoalesced = t.kfCoalesced.Load()
	st.CacheJoins = t.cacheJoins.Load()
	return st
}
