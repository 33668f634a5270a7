package stream

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// countBatcher is a Batcher that counts batches and the sink calls made
// outside of any.
type countBatcher struct {
	open, begins, flushes atomic.Int64
}

func (b *countBatcher) Begin() { b.open.Add(1); b.begins.Add(1) }
func (b *countBatcher) Flush() { b.open.Add(-1); b.flushes.Add(1) }

// TestFanoutWritesInBatches: every sink call of a fan-out happens inside
// a batch, a packet's fan-out to all its subscribers is one batch (not
// one per subscriber), and every batch is flushed.
func TestFanoutWritesInBatches(t *testing.T) {
	h := NewHub(Config{}, nil)
	t.Cleanup(h.Close)
	b := &countBatcher{}
	h.SetBatcher(b)
	_, tr := publishAudio(t, h, "live/a")
	var outside atomic.Int64
	const subs, n = 20, 50
	sinks := make([]*recSink, subs)
	for i := range sinks {
		sinks[i] = &recSink{onWrite: func(*rtp.Packet) {
			if b.open.Load() <= 0 {
				outside.Add(1)
			}
		}}
		tr.Subscribe(sinks[i])
	}
	for i := range n {
		tr.Write(audioPkt(uint16(i), uint32(i*960)))
		time.Sleep(time.Millisecond) // one packet per batch, mostly
	}
	for _, s := range sinks {
		waitFor(t, "every packet at every sink", func() bool { return s.n.Load() == n })
	}
	waitFor(t, "the last batch flushed", func() bool { return b.flushes.Load() == b.begins.Load() })
	if outside.Load() != 0 {
		t.Fatalf("%d sink calls outside a batch", outside.Load())
	}
	if got := b.begins.Load(); got < 1 || got > n {
		t.Fatalf("%d batches for %d packets to %d subscribers, want at most one per packet", got, n, subs)
	}
}

// TestCaughtUpSubscribersHoldNoGoroutine: subscribers that joined from the
// keyframe cache send its backlog from a goroutine of their own, then the
// stream's writer serves them; live subscribers never had one. So a
// stream's viewers cost no goroutine each, and every packet still arrives
// once, in order.
func TestCaughtUpSubscribersHoldNoGoroutine(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, vp8Codec, nil)
	seq := uint16(0)
	write := func() {
		if seq%30 == 0 {
			tr.Write(keyPkt(seq, uint32(seq)*100))
		} else {
			tr.Write(interPkt(seq, uint32(seq)*100))
		}
		seq++
	}
	for range 10 {
		write()
	}
	before := runtime.NumGoroutine()
	const subs = 50
	sinks := make([]*recSink, subs)
	ss := make([]*Subscription, subs)
	for i := range sinks {
		sinks[i] = &recSink{}
		ss[i] = tr.Subscribe(sinks[i])
		write()
	}
	if st := tr.Stats(); st.CacheJoins != subs {
		t.Fatalf("%d cache joins, want %d", st.CacheJoins, subs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d caught-up subscribers, %d before they joined", runtime.NumGoroutine(), subs, before)
		}
		write()
		time.Sleep(time.Millisecond)
	}
	// Nor a queue: a caught-up subscription forgets the one it joined
	// with. The writer takes a subscription back at a packet, so packets
	// keep coming meanwhile (the goroutine count above may have fallen
	// for another goroutine's end).
	for i, sub := range ss {
		waitFor(t, fmt.Sprintf("subscriber %d's queue forgotten", i), func() bool {
			sub.lmu.Lock()
			forgotten := sub.ch == nil
			sub.lmu.Unlock()
			if !forgotten {
				write()
			}
			return forgotten
		})
	}
	for range 10 {
		write()
	}
	last := seq - 1
	for i, s := range sinks {
		waitFor(t, "the last packet", func() bool {
			g := s.got()
			return len(g) > 0 && g[len(g)-1].seq == last
		})
		g := s.got()
		if !g[0].vp8Key {
			t.Fatalf("subscriber %d started at seq %d, not a keyframe", i, g[0].seq)
		}
		for j := 1; j < len(g); j++ {
			if g[j].seq != g[j-1].seq+1 {
				t.Fatalf("subscriber %d: seq %d follows %d", i, g[j].seq, g[j-1].seq)
			}
		}
	}
}

// TestStuckSinkDetachedOnce: a sink that blocks holds up the others for
// about the stall timeout, once: it is then served from a queue of its
// own, the others get every packet on time, and when it unblocks it gets
// what its queue kept, in order, and then the packets that follow; once
// the stall's penalty has passed the writer serves it again (its
// goroutine ends).
func TestStuckSinkDetachedOnce(t *testing.T) {
	const stall = 50 * time.Millisecond
	h := newTestHub(t, Config{StallTimeout: stall, SubscriberQueue: 64})
	_, tr := publishAudio(t, h, "live/a")
	unblock := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	a, stuck, c := &recSink{}, &recSink{}, &recSink{}
	tr.Subscribe(a)
	stuckSub := tr.Subscribe(stuck)
	tr.Subscribe(c)
	tr.Write(audioPkt(0, 0)) // the writer and the watchdog run
	waitFor(t, "the healthy sinks", func() bool { return a.n.Load() == 1 && c.n.Load() == 1 })
	before := runtime.NumGoroutine()
	stuck.block = unblock

	var worst time.Duration
	const n = 40
	for i := 1; i < n; i++ {
		start := time.Now()
		tr.Write(audioPkt(uint16(i), uint32(i*960)))
		waitFor(t, "the healthy sinks", func() bool { return a.n.Load() == int64(i+1) && c.n.Load() == int64(i+1) })
		worst = max(worst, time.Since(start))
	}
	if got := h.FanoutStalls(); got != 1 {
		t.Fatalf("%d stalls, want 1", got)
	}
	// The first packet waited for the watchdog; none waited twice.
	if worst < stall {
		t.Fatalf("the slowest packet took %v, less than the stall timeout: nothing was stuck?", worst)
	}
	release()
	waitFor(t, "the stuck sink's queue", func() bool { return stuck.n.Load() == n })
	for i := n; i < n+10; i++ {
		tr.Write(audioPkt(uint16(i), uint32(i*960)))
	}
	waitFor(t, "packets after the stall", func() bool { return stuck.n.Load() == n+10 })
	want := make([]uint16, n+10)
	for i := range want {
		want[i] = uint16(i)
	}
	if got := stuck.seqs(); !slices.Equal(got, want) {
		t.Fatalf("stuck sink got %v", got)
	}
	if st := stuckSub.Stats(); st.Dropped != 0 || st.Sent != n+10 {
		t.Fatalf("stuck subscription stats %+v", st)
	}
	if got := h.FanoutStalls(); got != 1 {
		t.Fatalf("%d stalls after it recovered, want 1", got)
	}
	deadline := time.Now().Add(stallPenalty + 5*time.Second)
	for seq := n + 10; runtime.NumGoroutine() > before; seq++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines %v after the stall, %d before it", runtime.NumGoroutine(), stallPenalty+5*time.Second, before)
		}
		tr.Write(audioPkt(uint16(seq), uint32(seq*960)))
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "every packet", func() bool { return int(stuck.n.Load()) == int(tr.Stats().Packets) })
}

// TestOverloadRefusesNewViewers: a fan-out that cannot keep up (a sink
// slower than the packets come) makes Admit refuse new viewers, counted,
// while the viewers already there keep getting packets; once it keeps up
// again, after the hold time, viewers are admitted again.
func TestOverloadRefusesNewViewers(t *testing.T) {
	const lag = 20 * time.Millisecond
	h := newTestHub(t, Config{OverloadLag: lag})
	_, tr := publishAudio(t, h, "live/a")
	if err := h.Admit(); err != nil {
		t.Fatalf("Admit on an idle hub: %v", err)
	}
	slow := &recSink{onWrite: func(*rtp.Packet) { time.Sleep(2 * time.Millisecond) }}
	tr.Subscribe(slow)
	var seq uint16
	deadline := time.Now().Add(5 * time.Second)
	for !h.Overloaded() {
		if time.Now().After(deadline) {
			t.Fatalf("not overloaded after 5 s of writing faster than the sink takes (%d of %d packets delivered)", slow.n.Load(), seq)
		}
		for range 10 { // 10 packets per millisecond or so, the sink takes one per 2 ms
			tr.Write(audioPkt(seq, uint32(seq)*960))
			seq++
		}
		time.Sleep(time.Millisecond)
	}
	if err := h.Admit(); err != ErrOverloaded {
		t.Fatalf("Admit while overloaded: %v", err)
	}
	if st := h.Overload(); !st.Overloaded || st.Refused != 1 || st.Behind == 0 {
		t.Fatalf("overload stats %+v", st)
	}
	got := slow.n.Load()
	waitFor(t, "the viewer already there to keep getting packets", func() bool { return slow.n.Load() > got })
	// No more packets: the writer catches up, and after the hold the hub
	// admits viewers again.
	waitFor(t, "the queue to drain", func() bool { return tr.fan.queued() == 0 })
	deadline = time.Now().Add(overloadHoldFactor*lag + 5*time.Second)
	for h.Admit() != nil {
		if time.Now().After(deadline) {
			t.Fatal("still refusing viewers long after the fan-out caught up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if h.Overloaded() {
		t.Fatal("overloaded after admitting")
	}
}

// TestShardedStreamDeliversInOrder: with several cores a stream's
// audience is split between writers, in blocks of joiners; every
// subscriber still gets every packet once, in order, and the writers
// share the work.
func TestShardedStreamDeliversInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	h := newTestHub(t, Config{SubscriberQueue: 4096})
	_, tr := publishAudio(t, h, "live/a")
	if n := len(tr.fan.w); n != 4 {
		t.Fatalf("%d writers with 4 cores", n)
	}
	const subs, n = 4*shardBlock + 3, 300
	sinks := make([]*recSink, subs)
	for i := range sinks {
		sinks[i] = &recSink{}
		tr.Subscribe(sinks[i])
	}
	want := make([]uint16, n)
	for i := range n {
		want[i] = uint16(i)
		tr.Write(audioPkt(uint16(i), uint32(i*960)))
	}
	for i, s := range sinks {
		waitFor(t, "every packet", func() bool { return s.n.Load() == n })
		if got := s.seqs(); !slices.Equal(got, want) {
			t.Fatalf("subscriber %d got %v", i, got)
		}
	}
	for i, f := range tr.fan.w {
		if f.run.seq == 0 {
			t.Errorf("writer %d served nothing", i)
		}
	}
}
