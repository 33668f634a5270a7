package stream

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// gateSink blocks in WriteRTP on the packets whose sequence number wait
// names, until the channel given closes.
type gateSink struct {
	recSink
	wait  map[uint16]chan struct{} // set before use
	calls atomic.Int64             // WriteRTP calls begun
}

func (s *gateSink) WriteRTP(p *rtp.Packet) error {
	s.calls.Add(1)
	if ch := s.wait[p.SequenceNumber]; ch != nil {
		<-ch
	}
	return s.recSink.WriteRTP(p)
}

// TestTakeoverKeepsTheRestOfAWakeUp: when the watchdog takes over a writer
// stuck in one viewer's sink, the packets the writer had taken from its
// queue in the same wake-up for other tracks (another subscriber list)
// still reach their viewers.
func TestTakeoverKeepsTheRestOfAWakeUp(t *testing.T) {
	const stall = 100 * time.Millisecond
	h := newTestHub(t, Config{StallTimeout: stall, SubscriberQueue: 64, KeyframeRequestInterval: time.Hour})
	p, err := h.Publish("live/av", []TrackInfo{audioInfo(), videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	audio, video := p.Track(Audio), p.Track(Video)
	hold, stuck := make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(stuck) }) })
	slow := &gateSink{wait: map[uint16]chan struct{}{0: hold, 1: stuck}}
	audio.Subscribe(slow)
	watcher := &recSink{}
	video.Subscribe(watcher)

	audio.Write(audioPkt(0, 0)) // the writer waits in slow's sink, briefly
	waitFor(t, "the writer in the slow sink", func() bool { return slow.calls.Load() == 1 })
	audio.Write(audioPkt(1, 960))
	video.Write(keyPkt(1, 3000))
	close(hold) // the writer takes audio 1 and video 1 in one wake-up, and sticks on audio 1
	waitFor(t, "the stall noticed", func() bool { return h.FanoutStalls() == 1 })
	waitFor(t, "the video packet of the stuck wake-up", func() bool { return watcher.n.Load() == 1 })
}

// TestStreamEndLeavesNoGoroutineNorOpenBatch: a stream with more viewers
// than one writer serves (several shards), viewers that joined from the
// keyframe cache (a goroutine each for a while) and one whose sink held
// up the fan-out (taken over) ends with its publisher and viewers: no
// goroutine of it stays, and every batch it opened was flushed.
func TestStreamEndLeavesNoGoroutineNorOpenBatch(t *testing.T) {
	before := runtime.NumGoroutine()
	h := NewHub(Config{StallTimeout: 50 * time.Millisecond, SubscriberQueue: 64, KeyframeRequestInterval: time.Hour}, nil)
	t.Cleanup(h.Close)
	b := &countBatcher{}
	h.SetBatcher(b)
	p, err := h.Publish("live/v", []TrackInfo{videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Track(Video)
	seq := uint16(0)
	write := func() {
		if seq%30 == 0 {
			tr.Write(keyPkt(seq, uint32(seq)*100))
		} else {
			tr.Write(interPkt(seq, uint32(seq)*100))
		}
		seq++
	}
	stuck := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(stuck) }) }
	t.Cleanup(release)
	subs := []*Subscription{tr.Subscribe(&recSink{block: stuck})} // served inline
	write()
	for range 3 * shardBlock {
		subs = append(subs, tr.Subscribe(&recSink{}))
	}
	for h.FanoutStalls() == 0 {
		write()
		time.Sleep(5 * time.Millisecond)
		if seq > 2000 {
			t.Fatal("the stuck sink was never taken over")
		}
	}
	release()
	for range 10 {
		write()
	}
	p.Close()
	for _, s := range subs {
		s.Close()
	}
	waitFor(t, "the stream gone", func() bool { return h.numStreams() == 0 })
	waitFor(t, "the stream's goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
	waitFor(t, "every batch flushed", func() bool { return b.open.Load() == 0 })
	if b.begins.Load() != b.flushes.Load() {
		t.Fatalf("%d batches begun, %d flushed", b.begins.Load(), b.flushes.Load())
	}
}

// TestEndedStreamStuckWriterClosesItsBatch: a stream that ends while its
// writer is stuck in a sink does not keep that writer's batch open until
// the sink returns (every socket of the server would hold its datagrams
// meanwhile), nor flushes it twice when the sink returns.
func TestEndedStreamStuckWriterClosesItsBatch(t *testing.T) {
	const stall = 50 * time.Millisecond
	h := newTestHub(t, Config{StallTimeout: stall, SubscriberQueue: 64})
	b := &countBatcher{}
	h.SetBatcher(b)
	p, tr := publishAudio(t, h, "live/a")
	stuck := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(stuck) }) }
	t.Cleanup(release)
	sink := &recSink{block: stuck}
	sub := tr.Subscribe(sink)
	tr.Write(audioPkt(0, 0))
	waitFor(t, "the writer in the sink", func() bool { return sink.entered.Load() == 1 })
	tr.Write(audioPkt(1, 960))
	p.Close()
	sub.Close()
	waitFor(t, "the stream gone", func() bool { return h.numStreams() == 0 })
	waitFor(t, "the stuck writer's batch flushed", func() bool { return b.open.Load() == 0 })
	release()
	waitFor(t, "the sink's call to return", func() bool { return sink.n.Load() == 1 })
	if b.open.Load() != 0 || b.begins.Load() != b.flushes.Load() {
		t.Fatalf("%d batches open; %d begun, %d flushed", b.open.Load(), b.begins.Load(), b.flushes.Load())
	}
}

// TestStalledViewerQueueHoldsNoBatchOpen: the goroutine that serves a
// viewer whose sink held up the fan-out does not keep a send batch open
// while that sink blocks again (every socket would hold its datagrams
// meanwhile, and only another stream's fan-out would send them).
func TestStalledViewerQueueHoldsNoBatchOpen(t *testing.T) {
	const stall = 50 * time.Millisecond
	h := newTestHub(t, Config{StallTimeout: stall, SubscriberQueue: 64})
	b := &countBatcher{}
	h.SetBatcher(b)
	_, tr := publishAudio(t, h, "live/a")
	first, again := make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(again) }) })
	slow := &gateSink{wait: map[uint16]chan struct{}{1: first, 2: again}}
	tr.Subscribe(slow)
	other := &recSink{}
	tr.Subscribe(other)
	tr.Write(audioPkt(1, 960))
	waitFor(t, "the stall noticed", func() bool { return h.FanoutStalls() == 1 })
	tr.Write(audioPkt(2, 2*960)) // queued for the slow viewer
	waitFor(t, "the other viewer's packets", func() bool { return other.n.Load() == 2 })
	close(first) // the slow sink's own goroutine now blocks on packet 2
	waitFor(t, "the slow sink blocked again", func() bool { return slow.calls.Load() == 2 })
	waitFor(t, "no batch open", func() bool { return b.open.Load() == 0 })
	once.Do(func() { close(again) })
	waitFor(t, "the slow sink's packets", func() bool { return slow.n.Load() == 2 })
}

// TestClosedWhileStuckLeavesNoGoroutine: a viewer closed while the writer
// waits in its sink (a gone viewer's send is what blocks), and then taken
// over, leaves no goroutine behind once that send returns, although its
// stream goes on.
func TestClosedWhileStuckLeavesNoGoroutine(t *testing.T) {
	h := newTestHub(t, Config{StallTimeout: 50 * time.Millisecond, SubscriberQueue: 64})
	_, tr := publishAudio(t, h, "live/a")
	hold := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(hold) }) })
	slow := &gateSink{wait: map[uint16]chan struct{}{1: hold}}
	sub := tr.Subscribe(slow)
	other := &recSink{}
	tr.Subscribe(other)
	tr.Write(audioPkt(1, 960))
	waitFor(t, "the writer in the slow sink", func() bool { return slow.calls.Load() == 1 })
	sub.Close()
	waitFor(t, "the stall noticed", func() bool { return h.FanoutStalls() == 1 })
	once.Do(func() { close(hold) })
	waitFor(t, "the slow sink's call to return", func() bool { return slow.n.Load() == 1 })
	tr.Write(audioPkt(2, 2*960))
	waitFor(t, "the other viewer's packets", func() bool { return other.n.Load() == 2 })
	waitFor(t, "the stuck goroutine to end", func() bool { return !stuckConsumerRuns() })
}

// stuckConsumerRuns reports whether a writer goroutine that was taken
// over still serves its subscription's queue.
func stuckConsumerRuns() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "stream.(*Subscription).consume") && strings.Contains(g, "stream.(*fanout).serve(") {
			return true
		}
	}
	return false
}
