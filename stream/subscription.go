package stream

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Sink receives a subscriber's packets, one at a time: from the stream's
// writer goroutine, or from the subscription's own while it has a queue
// (see fanout.go). The *rtp.Packet is owned by the subscription and valid
// only during the call: the sink must not retain it nor modify its Payload
// or CSRC. A sink should not block: one that blocks the writer for longer
// than Config.StallTimeout is given a queue of its own. (whep's sink
// copies the header before changing SSRC and payload type.)
type Sink interface {
	WriteRTP(p *rtp.Packet) error
}

// Subscription is one subscriber of a Track: the stream's writer hands it
// each packet and it rewrites the packet into its Sink; while it cannot
// keep up it has a bounded queue drained by a goroutine of its own (see
// fanout.go). A subscription to a simulcast video (SubscribeLayers)
// forwards one of its layers at a time and can move to another (see
// layers.go).
type Subscription struct {
	// track is the track forwarded. A layered subscription's delivery
	// changes it, holding lmu; other goroutines read it holding lmu.
	track *Track
	sink  Sink
	// layers are the stream's video layers (nil unless SubscribeLayers).
	layers []*Track
	// ch is the subscription's own queue, nil until it needs one. It is
	// set before the subscription is published to the writer, or by the
	// watchdog while the writer is stuck in this sink; stop reads it
	// holding lmu.
	ch    chan item
	done  chan struct{}
	once  sync.Once
	ended atomic.Bool // set before done is closed; checked per packet

	// shard is the stream's writer the subscription belongs to (see
	// shards.go), set before it is published.
	shard uint8

	// The following fields belong to the subscription's writer.
	queued bool   // packets go to ch, for the subscription's goroutine
	pushed uint64 // packets put in ch
	// stalls counts the times its sink blocked the writer; it keeps its
	// queue until queuedUntil (ns since the hub's base, as item.at).
	stalls      int
	queuedUntil int64
	// caught counts the packets of ch the subscription's goroutine has
	// delivered; when it equals pushed the writer takes over.
	caught atomic.Uint64

	dropped                       atomic.Uint64 // written by Track.Write and the writer
	sent, bytesOut, errs, skipped atomic.Uint64 // written by delivery
	inserted, switches            atomic.Uint64 // written by delivery

	// lmu guards the following fields, and writes of track and ch.
	lmu     sync.Mutex
	pending *Track // the layer being switched to, until its keyframe
	// after run when the subscription ends (AfterDone).
	after []func()
	// base are the counters already accounted to layers this
	// subscription has left (see totals).
	base Totals

	// The following fields belong to whoever delivers: the writer, or
	// the subscription's goroutine while it is queued.
	backlog []item     // cached keyframe packets to send before ch
	scratch rtp.Packet // the rewritten header handed to the sink
	epoch   uint32
	started bool  // a packet was sent: lastSeq, lastTS and lastAt are set
	rebase  bool  // the epoch changed: recompute offsets at the next packet
	gated   bool  // waiting for a keyframe start
	lastAsk int64 // when a gated subscription last asked for a keyframe
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  int64
}

// SubscriptionStats is a snapshot of a subscription's counters.
type SubscriptionStats struct {
	// Sent counts packets the sink accepted.
	Sent uint64
	// Dropped counts packets lost because the server was overloaded: its
	// queue was full, or its writer shed it (shed.go).
	Dropped uint64
	// Skipped counts packets not sent while waiting for a keyframe.
	Skipped uint64
	// Errors counts packets whose WriteRTP returned an error.
	Errors uint64
	// Inserted counts packets of parameter sets sent ahead of a keyframe
	// that lacked them (see paramsets.go); Sent includes them.
	Inserted uint64
}

// Subscribe starts forwarding the track's packets to s.
//
// A video subscriber starts from the keyframe cache when it is valid (no
// keyframe request is sent); otherwise it skips packets until the next
// keyframe start and a keyframe request is sent to the publisher. If that
// first keyframe of an H.264/H.265 track lacks its parameter sets, the
// track's latest ones are sent ahead of it (see paramsets.go). Audio
// subscribers start with live packets. Subscribing to a track that has
// ended (or with a nil sink) returns a subscription that is already done.
func (t *Track) Subscribe(s Sink) *Subscription {
	return t.subscribe(&Subscription{track: t, sink: s, done: make(chan struct{})})
}

// subscribe starts sub on t (its track); see Subscribe.
func (t *Track) subscribe(sub *Subscription) *Subscription {
	s := sub.sink
	h := t.hub
	if h == nil || s == nil {
		sub.stop()
		return sub
	}
	h.mu.Lock()
	t.mu.Lock()
	if h.closed || t.closed {
		t.mu.Unlock()
		h.mu.Unlock()
		sub.stop()
		return sub
	}
	ask := t.kind == Video
	if t.gop {
		if t.cacheOK && len(t.cache) > 0 {
			// Snapshot and join under one lock, so the backlog and the live
			// packets that follow have no gap and no duplicate. The backlog
			// goes out from a goroutine of the subscription's own, the live
			// packets meanwhile to its queue.
			sub.backlog = slices.Clone(t.cache)
			sub.ch = make(chan item, t.queueLen)
			sub.queued = true
			t.cacheJoins.Add(1)
			ask = false
		} else {
			sub.gated = true
		}
	}
	sub.lastAsk = int64(time.Since(t.base))
	sub.shard = t.fan.assign()
	subs := make([]*Subscription, len(t.subs), len(t.subs)+1)
	copy(subs, t.subs)
	t.subs = append(subs, sub)
	t.mu.Unlock()
	h.mu.Unlock()

	if sub.queued {
		go sub.consume(h.batch)
	}
	if ask {
		t.requestKeyframe()
	}
	return sub
}

// RequestKeyframe forwards a viewer's PLI/FIR to the publisher of the
// track (the layer) it forwards, coalesced to at most one per
// Config.KeyframeRequestInterval per track.
func (s *Subscription) RequestKeyframe() {
	t, _ := s.tracks()
	if t == nil || s.isDone() {
		return
	}
	t.requestKeyframe()
}

// Close ends the subscription and stops its goroutine. It is idempotent and
// does not wait: a WriteRTP call in progress may still complete after Close
// returns, but no new one starts. It is safe to call from the Sink.
func (s *Subscription) Close() {
	if !s.stop() {
		return
	}
	cur, pend := s.tracks()
	if pend != nil {
		pend.removeSub(s)
	}
	if cur != nil {
		cur.removeSub(s)
	}
}

// tracks returns the track forwarded and the one being switched to.
func (s *Subscription) tracks() (cur, pending *Track) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.track, s.pending
}

// Done is closed when the subscription ends for any reason: Close, a codec
// change, the orphan timeout, or Hub.Close.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// AfterDone arranges for f to run in a goroutine of its own once the
// subscription ends (at once if it has): what a goroutine waiting on Done
// would do, without a goroutine per subscription waiting meanwhile.
func (s *Subscription) AfterDone(f func()) {
	s.lmu.Lock()
	if !s.isDone() {
		s.after = append(s.after, f)
		s.lmu.Unlock()
		return
	}
	s.lmu.Unlock()
	go f()
}

// Stats returns a snapshot of the subscription's counters.
func (s *Subscription) Stats() SubscriptionStats {
	return SubscriptionStats{
		Sent:     s.sent.Load(),
		Dropped:  s.dropped.Load(),
		Skipped:  s.skipped.Load(),
		Errors:   s.errs.Load(),
		Inserted: s.inserted.Load(),
	}
}

// stop ends the subscription once; it reports whether this call did. If
// its goroutine is parked on an empty queue, the empty item wakes it; if
// the queue is full, the goroutine is busy and sees ended at its next item.
func (s *Subscription) stop() bool {
	first := false
	s.once.Do(func() {
		first = true
		s.lmu.Lock()
		s.ended.Store(true)
		close(s.done)
		ch, after := s.ch, s.after
		s.after = nil
		s.lmu.Unlock()
		select {
		case ch <- item{}:
		default:
		}
		for _, f := range after {
			go f()
		}
	})
	return first
}

func (s *Subscription) isDone() bool { return s.ended.Load() }

// removeSub takes s off the subscriber list and lets the hub forget a
// stream that nothing uses any more.
func (t *Track) removeSub(s *Subscription) {
	t.dropSub(s, s.totalsOn(t))
}

// dropSub is removeSub retiring the counters retire into t.
func (t *Track) dropSub(s *Subscription, retire Totals) {
	h := t.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	t.mu.Lock()
	if i := slices.Index(t.subs, s); i >= 0 {
		t.subs = slices.Delete(slices.Clone(t.subs), i, i+1)
		t.retiredSubs.add(retire)
	}
	t.mu.Unlock()
	h.maybeRemove(t.entry)
}

// consume is the subscription's own goroutine while it is queued: it
// sends the backlog, then the queue, to the sink, each run of packets in
// one batch, until the subscription ends or the writer takes it back
// (the empty item). A subscription whose sink blocked the writer sends
// without a batch: a batch stays open while its sink blocks, and the
// sockets hold every datagram written meanwhile.
func (s *Subscription) consume(b Batcher) {
	if s.stalls > 0 { // set by detach, before this goroutine took over
		b = noBatch{}
	}
	// The queue this goroutine serves: the writer forgets it when it
	// takes the subscription back (catchUp). A subscription that ended
	// before the watchdog gave it this queue (while its sink blocked the
	// writer) is not woken through it: stop saw no queue. stop ends the
	// subscription holding lmu, so either the end shows here or stop
	// wakes ch.
	s.lmu.Lock()
	ch, ended := s.ch, s.isDone()
	s.lmu.Unlock()
	if ended {
		s.backlog = nil
		return
	}
	if len(s.backlog) > 0 {
		b.Begin()
		for i := range s.backlog {
			if s.isDone() {
				break
			}
			s.deliver(s.backlog[i])
		}
		b.Flush()
	}
	s.backlog = nil
	for {
		it := <-ch
		if it.p == nil || s.isDone() {
			return // taken back by the writer, or ended: Close wins over a queued packet
		}
		b.Begin()
		s.deliver(it)
		n := uint64(1)
		for ; n < batchItems && len(ch) > 0; n++ {
			if it = <-ch; it.p == nil || s.isDone() {
				b.Flush()
				return
			}
			s.deliver(it)
		}
		b.Flush()
		s.caught.Add(n)
	}
}

// push queues a packet for the subscription's goroutine, or drops it if
// the queue is full. Called by the writer.
func (s *Subscription) push(it item) {
	select {
	case s.ch <- it:
		s.pushed++
	default:
		s.dropped.Add(1)
	}
}

// catchUp reports whether the writer may deliver to a queued
// subscription inline from packets arriving at at on: its goroutine has
// delivered every packet queued, and if its sink blocked the writer, the
// time that costs it has passed. That goroutine is then told to end, and
// the queue is forgotten: a caught-up subscription holds none (one is
// Config.SubscriberQueue items, about 20 KB by default). Called by the
// writer.
func (s *Subscription) catchUp(at int64) bool {
	if s.pushed == 0 || s.caught.Load() != s.pushed || at < s.queuedUntil {
		return false
	}
	s.queued = false
	select {
	case s.ch <- item{}:
	default: // cannot be full: the goroutine took everything
	}
	s.lmu.Lock()
	s.ch = nil
	s.lmu.Unlock()
	return true
}

// Stall penalties: a subscription whose sink blocked the writer keeps a
// queue of its own for stallPenalty, doubled at each stall up to
// stallPenaltyMax, before the writer serves it inline again. A sink that
// was only slow once (or seemed stuck because the machine was busy) is
// soon back; one that keeps blocking costs the others little.
const (
	stallPenalty    = time.Second
	stallPenaltyMax = time.Minute
)

// detach gives a subscription whose sink is blocking the writer a queue
// of its own; the blocked goroutine serves it once the sink returns.
// Called by the watchdog at now (ns since the hub's base), while the
// writer is stuck in s's sink.
func (s *Subscription) detach(queueLen int, now int64) {
	ch := make(chan item, queueLen)
	s.lmu.Lock()
	s.ch = ch
	s.lmu.Unlock()
	s.queued = true
	s.pushed = 0
	s.caught.Store(0)
	penalty := stallPenalty << min(s.stalls, 6)
	s.stalls++
	s.queuedUntil = now + int64(min(penalty, stallPenaltyMax))
}

// deliver rewrites one packet onto the scratch header and hands it to the
// sink: extensions stripped, CSRC kept, sequence number and timestamp moved
// by this subscription's offsets. Offsets change only when the publisher
// does (a new epoch): then the next packet sent gets lastSeq+1 and a
// timestamp advanced by the wall-clock time elapsed; and when the
// subscription starts from a keyframe that lacks its parameter sets: the
// sets go first, and the offset moves by the packets they took.
// Otherwise output is input+offset, so gaps from drops stay gaps for the
// receiver to NACK.
func (s *Subscription) deliver(it item) {
	if it.layer != s.track.idx && !s.takeLayer(it) {
		s.skipped.Add(1)
		return
	}
	t := s.track
	if it.epoch != s.epoch {
		if s.started {
			s.rebase = true
			s.gated = t.gop // the new publisher's frames need its keyframe
		}
		s.epoch = it.epoch
	}
	start := !s.started // the first packet sent, or the first after a gate
	if s.gated {
		if !it.keyframe {
			s.skipped.Add(1)
			if it.at-s.lastAsk >= int64(t.kfInterval) {
				s.lastAsk = it.at
				t.requestKeyframe()
			}
			return
		}
		s.gated = false
		start = true
	}
	p := it.p
	switch {
	case !s.started:
		s.started = true
	case s.rebase:
		s.rebase = false
		s.seqOff = s.lastSeq + 1 - p.SequenceNumber
		s.tsOff = s.lastTS + clockTicks(it.at-s.lastAt, t.rate) - p.Timestamp
	}
	if start && it.ps != nil {
		s.seqOff += s.sendParamSets(it.ps, p)
	}

	// The header by value; Payload and CSRC are shared read-only. Raw would
	// carry the original header's bytes, so it must not reach the sink.
	out := &s.scratch
	*out = *p
	out.Raw = nil //nolint:staticcheck // clearing the deprecated field is the point
	out.Extension = false
	out.Extensions = nil
	out.ExtensionProfile = 0
	out.SequenceNumber = p.SequenceNumber + s.seqOff
	out.Timestamp = p.Timestamp + s.tsOff
	s.lastSeq, s.lastTS, s.lastAt = out.SequenceNumber, out.Timestamp, it.at
	s.write(out)
	*out = rtp.Packet{} // drop references to the shared packet
}

// write hands out to the sink and counts the outcome.
func (s *Subscription) write(out *rtp.Packet) {
	if err := s.sink.WriteRTP(out); err != nil {
		s.errs.Add(1)
	} else {
		s.sent.Add(1)
		s.bytesOut.Add(uint64(len(out.Payload)))
	}
}

// clockTicks converts a duration in nanoseconds to RTP clock ticks at rate,
// at least 1 so that a new publisher's first frame never repeats the last
// timestamp sent.
func clockTicks(ns int64, rate uint32) uint32 {
	if ns <= 0 {
		return 1
	}
	const second = int64(time.Second)
	n := uint64(ns/second)*uint64(rate) + uint64(ns%second)*uint64(rate)/uint64(second)
	if n == 0 {
		n = 1
	}
	return uint32(n) // RTP timestamps wrap
}
