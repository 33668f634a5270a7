package stream

// Totals are the hub's media counters since it started, over every track
// and subscription it has had (for monitoring). They only grow.
type Totals struct {
	// PacketsIn and BytesIn (payload) were written by publishers.
	PacketsIn, BytesIn uint64
	// PacketsOut and BytesOut (payload) reached subscribers' sinks.
	PacketsOut, BytesOut uint64
	// Dropped were lost because a subscriber's queue was full.
	Dropped uint64
	// KeyframeRequestsSent reached publishers (after coalescing);
	// KeyframeRequestsCoalesced were absorbed by an earlier request.
	KeyframeRequestsSent, KeyframeRequestsCoalesced uint64
	// CacheJoins counts subscribers started from the keyframe cache.
	CacheJoins uint64
}

// sub returns t minus o, for the outbound counters.
func (t Totals) sub(o Totals) Totals {
	t.PacketsOut -= o.PacketsOut
	t.BytesOut -= o.BytesOut
	t.Dropped -= o.Dropped
	return t
}

// add adds o to t.
func (t *Totals) add(o Totals) {
	t.PacketsIn += o.PacketsIn
	t.BytesIn += o.BytesIn
	t.PacketsOut += o.PacketsOut
	t.BytesOut += o.BytesOut
	t.Dropped += o.Dropped
	t.KeyframeRequestsSent += o.KeyframeRequestsSent
	t.KeyframeRequestsCoalesced += o.KeyframeRequestsCoalesced
	t.CacheJoins += o.CacheJoins
}

// Totals returns the hub's counters. Subscriptions and tracks that ended
// are kept in them, so that each only grows.
func (h *Hub) Totals() Totals {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.retired
	for _, e := range h.streams {
		for _, t := range e.tracks {
			out.add(t.totals())
		}
	}
	return out
}

// retireTrack keeps the counters of a track the hub drops. h.mu must be
// held, and the track ended (its subscriptions retired into it).
func (h *Hub) retireTrack(t *Track) { h.retired.add(t.totals()) }

// totals are the track's counters with those of its subscriptions, past
// and present.
func (t *Track) totals() Totals {
	t.mu.Lock()
	out := t.retiredSubs
	for _, s := range t.subs {
		out.add(s.totalsOn(t))
	}
	t.mu.Unlock()
	out.PacketsIn = t.packets.Load()
	out.BytesIn = t.bytes.Load()
	out.KeyframeRequestsSent = t.kfSent.Load()
	out.KeyframeRequestsCoalesced = t.kfCoalesced.Load()
	out.CacheJoins = t.cacheJoins.Load()
	return out
}

// counters are a subscription's outbound counters since it started.
func (s *Subscription) counters() Totals {
	return Totals{PacketsOut: s.sent.Load(), BytesOut: s.bytesOut.Load(), Dropped: s.dropped.Load()}
}

// totalsOn are the subscription's counters that belong to t: those since
// it last moved to t if t is the track it forwards, none if t is only the
// layer it is switching to. Each packet is so counted on one track only.
// Lock order: Track.mu before Subscription.lmu.
func (s *Subscription) totalsOn(t *Track) Totals {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.track != t {
		return Totals{}
	}
	return s.counters().sub(s.base)
}
