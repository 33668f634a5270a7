package stream

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// The fan-out engine.
//
// Each stream has one writer goroutine (a fanout) that every track of the
// stream queues its packets to. For each packet the writer opens a batch
// (Batcher: the sockets then hold what is written to them), runs every
// caught-up subscription's delivery (keyframe gate, layer switch,
// rewrite) and its sink inline, one after the other, and flushes the
// batch: one wake-up per packet for the whole audience instead of one per
// viewer, and one sendmmsg instead of one sendto per viewer. Packets that
// queued while the writer was busy go out in the same batch.
//
// A subscription that cannot keep up has a queue and goroutine of its own,
// fed by the writer without blocking (what does not fit is dropped and
// counted): one that starts with the keyframe cache's backlog, until it
// has sent it and caught up; and one whose sink blocked the writer for
// longer than Config.StallTimeout, until it has caught up and a penalty
// has passed (a second, doubling with each stall up to a minute). A
// watchdog notices a writer stuck in a sink: it moves that subscription
// to a queue of its own, starts a new writer that carries on with the
// next subscription, and leaves the stuck goroutine to become that
// subscription's own when its sink returns. So a stuck viewer stalls the
// others for the timeout at most, and seldom.

// Batcher groups the network writes of one packet's fan-out: Begin before
// the sinks are called, Flush after. Calls may overlap (several streams'
// writers at once); writes made while any batch is open may wait until
// the next Flush.
type Batcher interface {
	Begin()
	Flush()
}

// noBatch is the Batcher of a hub without one.
type noBatch struct{}

func (noBatch) Begin() {}
func (noBatch) Flush() {}

// SetBatcher makes every stream's writer group its packets' sends with b
// (nil: none). Call it before the hub is used.
func (h *Hub) SetBatcher(b Batcher) {
	if b == nil {
		b = noBatch{}
	}
	h.batch = b
}

// batchItems is the most queued packets one batch carries.
const batchItems = 16

// fanItem is a packet queued for a stream's writer, with the track's
// subscribers when it was written.
type fanItem struct {
	it   item
	subs []*Subscription
}

// fanout is a stream's writer: its queue, its running goroutine and the
// watchdog's view of it.
type fanout struct {
	idx      uint8 // the shard it serves (Subscription.shard)
	log      *slog.Logger
	q        chan fanItem
	quit     chan struct{}
	batch    Batcher
	stall    time.Duration
	queueLen int       // of a subscription's own queue
	base     time.Time // Hub.base

	stalls atomic.Uint64 // subscriptions detached for blocking the writer
	over   *overload     // the hub's
	// shed is the writer's own: which video subscribers it skips while
	// it cannot keep up (shed.go).
	shed shedding

	// mu guards all following fields.
	mu      sync.Mutex
	closed  bool
	run     *writerRun
	lastPos uint64    // run.pos when the watchdog last looked
	lastAt  time.Time // when run.pos became lastPos
}

// writerRun is one writer goroutine. pos says where it is: in the sink of
// subscriber i of its seq'th packet (seq<<32 | i), or between sinks
// (posBetween in the low half). The watchdog takes over a run stuck in a
// sink by swapping pos to posStolen, as stop does to a run it lets go.
type writerRun struct {
	pos atomic.Uint64
	seq uint32
	// cur are the packets being fanned out, and rest the wake-up's
	// packets from cur on (a takeover's new writer finishes them),
	// written before pos names them; buf holds the packets of a wake-up.
	cur, rest []fanItem
	buf       []fanItem
	// handoff is closed once the watchdog has given the stuck
	// subscription its queue: the stuck goroutine then serves it; or,
	// with orphan set before, once the stream's writers stopped: the
	// stuck goroutine then ends.
	handoff chan struct{}
	orphan  bool
}

const (
	posBetween = math.MaxUint32
	posStolen  = math.MaxUint64
)

func newWriterRun() *writerRun {
	r := &writerRun{handoff: make(chan struct{})}
	r.pos.Store(posBetween)
	return r
}

// newFanout starts e's writer of shard idx. h.mu must be held.
func (h *Hub) newFanout(e *entry, idx uint8) *fanout {
	f := &fanout{
		idx:      idx,
		log:      e.log,
		q:        make(chan fanItem, h.cfg.SubscriberQueue),
		quit:     make(chan struct{}),
		batch:    h.batch,
		stall:    h.cfg.StallTimeout,
		queueLen: h.cfg.SubscriberQueue,
		base:     h.base,
		over:     &h.over,
		shed:     shedding{lagLimit: int64(h.cfg.OverloadLag) / 4},
		run:      newWriterRun(),
		lastPos:  posBetween,
	}
	go f.loop(f.run, nil, 0)
	h.watch(f)
	return f
}

// push queues a packet for the writer, or drops it for every subscriber
// if the queue is full (the server is overloaded).
func (f *fanout) push(fi fanItem) {
	select {
	case f.q <- fi:
	default:
		f.over.mark(fi.it.at)
		for _, s := range fi.subs {
			if s.shard == f.idx {
				s.dropped.Add(1)
			}
		}
	}
}

// stop ends the writer. Packets still queued are not sent. A writer
// stuck in a sink is let go: the batch it opened is flushed now, not when
// the sink returns (the sockets hold every datagram while a batch is
// open), and the goroutine ends once the sink returns.
func (f *fanout) stop() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.quit)
	r := f.run
	p := r.pos.Load()
	orphaned := uint32(p) != posBetween && r.pos.CompareAndSwap(p, posStolen)
	if orphaned {
		r.orphan = true
		close(r.handoff)
	}
	f.mu.Unlock()
	if orphaned {
		f.batch.Flush() // without f.mu, as check does
	}
}

// loop is a writer goroutine: it first finishes the packets resume from
// subscriber from on (after a takeover: the stuck wake-up's packets from
// the stuck subscriber's run on), then serves the queue until stop: each
// time it wakes, the packets queued meanwhile (up to batchItems) in one
// send batch.
func (f *fanout) loop(r *writerRun, resume []fanItem, from int) {
	if resume != nil {
		f.batch.Begin()
		if !f.serveAll(r, resume, from) {
			return
		}
		f.batch.Flush()
	}
	for {
		var fi fanItem
		select {
		case fi = <-f.q:
		case <-f.quit:
			return
		}
		now := int64(time.Since(f.base))
		f.over.note(fi.it.at, now)
		if f.shed.adjust(fi.it.at, now) {
			f.over.refuse(now) // no new viewers while some are shed
		}
		buf := append(r.buf[:0], fi)
		for len(buf) < batchItems && len(f.q) > 0 {
			buf = append(buf, <-f.q) // the writer is the only receiver
		}
		r.buf = buf
		f.batch.Begin()
		if !f.serveAll(r, buf, 0) {
			return
		}
		f.batch.Flush()
		clear(buf) // no reference to the packets stays
	}
}

// serveAll serves buf run by run (packets with the same subscribers), the
// first run from subscriber from on. It reports false when the watchdog
// took the writer over (see serve): a new writer then carries on with
// what is left of buf.
func (f *fanout) serveAll(r *writerRun, buf []fanItem, from int) bool {
	for start := 0; start < len(buf); {
		end := start + 1
		for end < len(buf) && sameSubs(buf[end].subs, buf[start].subs) {
			end++
		}
		if !f.serve(r, buf[start:end], buf[start:], from) {
			return false
		}
		start, from = end, 0
	}
	return true
}

// sameSubs reports whether a and b are the same subscriber list (a
// track's copy-on-write slice, unchanged between two packets).
func sameSubs(a, b []*Subscription) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// serve hands a run of packets with the same subscribers to them (items,
// the start of rest: what is left of the wake-up), from index from on, subscriber by subscriber (so each subscription's state,
// and its sink's, is loaded into the cache once for the run, not once per
// packet): inline to those caught up, through their queue to the others.
// It reports false when the watchdog took over while a sink blocked; the
// goroutine has then finished the run for that subscription and served
// its queue until it ended or was taken back, and must stop.
func (f *fanout) serve(r *writerRun, items, rest []fanItem, from int) bool {
	r.seq++
	base := uint64(r.seq) << 32
	r.cur, r.rest = items, rest
	subs := items[0].subs
	served := 0 // video subscribers served or shed, in the order they joined
	for i := from; i < len(subs); i++ {
		s := subs[i]
		if s.shard != f.idx || s.isDone() {
			continue
		}
		if s.queued && !s.catchUp(items[0].it.at) {
			for k := range items {
				s.push(items[k].it)
			}
			continue
		}
		if s.track.gop {
			served++
			if lim := f.shed.limit; lim > 0 && served > lim {
				// A layer s is switching to (or has just left) is
				// skipped: the switch waits, the video s forwards goes
				// on (the writer delivers to s: s.track is its own).
				if items[0].it.layer == s.track.idx {
					s.shed(len(items))
					f.over.shed.Add(uint64(len(items)))
				}
				continue
			}
		}
		r.pos.Store(base | uint64(i))
		for k := range items {
			if s.isDone() {
				break
			}
			s.deliver(items[k].it)
		}
		if !r.pos.CompareAndSwap(base|uint64(i), base|posBetween) {
			<-r.handoff
			if !r.orphan {
				s.consume(f.batch)
			}
			return false
		}
	}
	if served > 0 {
		f.shed.ran(served)
	}
	r.cur, r.rest = nil, nil
	return true
}

// check is the watchdog's look at f: a writer found in the same sink
// call as last time, for longer than the stall timeout, is taken over.
// late says the watchdog itself ran late, so the process may not have
// run at all: the time since the last look does not count.
func (f *fanout) check(now time.Time, late bool) {
	if f.takeover(now, late) {
		// The batch the stuck writer opened, flushed without f.mu: the
		// sockets' locks may wait on the network.
		f.batch.Flush()
	}
}

// takeover is check under f.mu; it reports whether it took the writer
// over.
func (f *fanout) takeover(now time.Time, late bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	r := f.run
	p := r.pos.Load()
	if p != f.lastPos || uint32(p) == posBetween || late {
		f.lastPos, f.lastAt = p, now
		return false
	}
	if now.Sub(f.lastAt) < f.stall || !r.pos.CompareAndSwap(p, posStolen) {
		return false
	}
	// r is blocked in the sink of subscriber i of r.cur, and will not
	// touch the writer's state again (it finishes r.cur for that
	// subscriber, reading it as the new writer does). The new writer
	// finishes the rest of the wake-up: r.cur's other subscribers from
	// i+1 on, and the packets after r.cur.
	items, i := r.rest, int(uint32(p))
	items[0].subs[i].detach(f.queueLen, int64(now.Sub(f.base)))
	f.stalls.Add(1)
	f.log.Info("a viewer's send held up the stream's fan-out: it gets a queue of its own", "for", now.Sub(f.lastAt).Round(time.Millisecond))
	nr := newWriterRun()
	f.run, f.lastPos = nr, posBetween
	go f.loop(nr, items, i+1)
	close(r.handoff)
	return true
}

// watch adds f to the fan-outs the hub's watchdog checks, starting the
// watchdog if it is not running. h.mu must be held.
func (h *Hub) watch(f *fanout) {
	h.fans[f] = struct{}{}
	if !h.watching {
		h.watching = true
		go h.watchdog(h.cfg.StallTimeout / 2)
	}
}

// unwatch stops f and forgets it. h.mu must be held.
func (h *Hub) unwatch(f *fanout) {
	if f == nil {
		return
	}
	f.stop()
	delete(h.fans, f)
}

// watchdog checks every stream's writer every period, until the hub has
// none or is closed. A tick that comes more than a period late means the
// process itself was kept from running (a busy machine): the writers'
// lack of progress over that time is not held against their sinks.
func (h *Hub) watchdog(period time.Duration) {
	period = max(period, time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var fans []*fanout
	last := time.Now()
	for now := range tick.C {
		late := now.Sub(last) > 2*period
		last = now
		h.mu.Lock()
		if h.closed || len(h.fans) == 0 {
			h.watching = false
			h.mu.Unlock()
			return
		}
		fans = fans[:0]
		for f := range h.fans {
			fans = append(fans, f)
		}
		h.mu.Unlock()
		for _, f := range fans {
			f.check(now, late)
		}
	}
}

// FanoutStalls counts the subscriptions the hub's writers handed a queue
// of their own because their sink blocked (Config.StallTimeout).
func (h *Hub) FanoutStalls() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.retiredStalls
	for f := range h.fans {
		n += f.stalls.Load()
	}
	return n
}
