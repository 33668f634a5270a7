package stream

import (
	"slices"
)

// Simulcast: a publisher sends one video as several encodings (layers,
// RFC 8853), each a Track of the stream. A viewer's subscription forwards
// one layer at a time. To move to another it subscribes to the target too,
// asks its publisher for a keyframe, keeps forwarding the current layer
// meanwhile, and switches at the target's first keyframe: from then on it
// forwards the target, with sequence numbers continuing and timestamps
// advanced by the time elapsed (as across a change of publisher), and
// leaves the old layer. So a switch costs the viewer no gap and no
// undecodable frame, and the fan-out pays for a second layer only while a
// switch waits for its keyframe.

// SubscribeLayers subscribes s to one of a simulcast video's layers,
// layers[start], as Track.Subscribe does (cache join, keyframe gate,
// parameter sets), and lets it move between them with SwitchLayer.
// layers are the stream's video tracks (Lease.Layers).
func SubscribeLayers(layers []*Track, start int, s Sink) *Subscription {
	if start < 0 || start >= len(layers) {
		sub := &Subscription{sink: s, done: make(chan struct{})}
		sub.stop()
		return sub
	}
	t := layers[start]
	return t.subscribe(&Subscription{track: t, sink: s, done: make(chan struct{}), layers: slices.Clone(layers)})
}

// Layers returns the layers a subscription can move between (nil for a
// subscription of a single track).
func (s *Subscription) Layers() []*Track { return s.layers }

// Layer returns the index in Layers of the layer forwarded, and of the
// layer being switched to (-1 when no switch waits).
func (s *Subscription) Layer() (current, pending int) {
	cur, pend := s.tracks()
	return slices.Index(s.layers, cur), slices.Index(s.layers, pend)
}

// Switches counts the layer switches the subscription made.
func (s *Subscription) Switches() uint64 { return s.switches.Load() }

// SwitchLayer moves the subscription to layers[i] at that layer's next
// keyframe, which it asks the publisher for; until then it forwards the
// current layer. Switching back to the current layer cancels a pending
// switch; a new target replaces a pending one. It does nothing for a
// subscription without layers, an index out of range, or after Close.
func (s *Subscription) SwitchLayer(i int) {
	if i < 0 || i >= len(s.layers) || s.isDone() {
		return
	}
	target := s.layers[i]
	s.lmu.Lock()
	cur, old := s.track, s.pending
	if target == old {
		s.lmu.Unlock()
		return
	}
	s.pending = nil
	if target != cur {
		s.pending = target
	}
	s.lmu.Unlock()
	if old != nil {
		old.dropSub(s, Totals{})
	}
	if target == cur || !target.addSub(s) {
		return
	}
	target.requestKeyframe()
}

// addSub adds the running subscription s to t's subscribers (its items
// then reach s's queue too), unless t or the hub has ended. It reports
// whether it did.
func (t *Track) addSub(s *Subscription) bool {
	h := t.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.closed || t.closed || slices.Contains(t.subs, s) {
		return false
	}
	subs := make([]*Subscription, len(t.subs), len(t.subs)+1)
	copy(subs, t.subs)
	t.subs = append(subs, s)
	return true
}

// takeLayer decides about an item from another layer than the one
// forwarded: at a keyframe of the layer being switched to, the
// subscription switches (and reports true: the item is to be delivered);
// other items are not forwarded. Called by the run goroutine.
func (s *Subscription) takeLayer(it item) bool {
	s.lmu.Lock()
	pend := s.pending
	if pend == nil || it.layer != pend.idx {
		s.lmu.Unlock()
		return false // the old layer's last packets, after a switch
	}
	if !it.keyframe {
		s.lmu.Unlock()
		if it.at-s.lastAsk >= int64(pend.kfInterval) {
			s.lastAsk = it.at
			pend.requestKeyframe()
		}
		return false
	}
	prev := s.track
	now := s.counters()
	left := now.sub(s.base)
	s.base = now
	s.track, s.pending = pend, nil
	s.lmu.Unlock()
	prev.dropSub(s, left)
	s.switches.Add(1)
	if s.started {
		// Offsets are recomputed at this packet: the sequence goes on, the
		// timestamp advances by the time elapsed (the layers' RTP clocks
		// are not each other's).
		s.rebase = true
	}
	// Through the keyframe gate, which this keyframe opens at once: it is
	// where the viewer starts the new layer, so parameter sets it lacks are
	// sent ahead of it (paramsets.go).
	s.gated = true
	return true
}

// RankLayers orders a simulcast video's layers best first: by picture
// size where the publisher's side set it (Track.SetSize), else by
// bitrate (the bytes received so far, before a rate is measured), else in
// the publisher's order. It returns indexes into layers.
func RankLayers(layers []*Track) []int {
	type score struct {
		i      int
		pixels int
		bps    int64
	}
	s := make([]score, len(layers))
	for i, l := range layers {
		w, h := l.Size()
		bps, _ := l.Rates()
		if bps == 0 {
			bps = int64(l.bytes.Load())
		}
		s[i] = score{i, w * h, bps}
	}
	slices.SortStableFunc(s, func(a, b score) int {
		if a.pixels != b.pixels {
			return b.pixels - a.pixels
		}
		switch {
		case a.bps > b.bps:
			return -1
		case a.bps < b.bps:
			return 1
		}
		return 0
	})
	out := make([]int, len(s))
	for i, x := range s {
		out[i] = x.i
	}
	return out
}

// LayerViewers counts the subscriptions on the layers of every simulcast
// stream by the layer's rank (RankLayers: 0 is each stream's best), for
// monitoring. A viewer whose switch waits for its target's keyframe
// counts on both layers for that moment.
func (h *Hub) LayerViewers() []int {
	h.mu.Lock()
	var layered [][]*Track
	for _, e := range h.streams {
		var video []*Track
		for _, t := range e.tracks {
			if t.kind == Video && t.layer != "" {
				video = append(video, t)
			}
		}
		if len(video) > 1 {
			layered = append(layered, video)
		}
	}
	h.mu.Unlock()
	out := make([]int, MaxLayers)
	for _, video := range layered {
		for pos, i := range RankLayers(video) {
			out[pos] += video[i].subscribers()
		}
	}
	return out
}
