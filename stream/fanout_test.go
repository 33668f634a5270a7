package stream

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func publishAudio(t *testing.T, h *Hub, name string) (*Publication, *Track) {
	t.Helper()
	p, err := h.Publish(name, []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatalf("Publish(%q): %v", name, err)
	}
	return p, p.Track(Audio)
}

func TestFanoutToThreeSinks(t *testing.T) {
	h := newTestHub(t, Config{})
	_, tr := publishAudio(t, h, "live/a")
	sinks := []*recSink{{}, {}, {}}
	var subs []*Subscription
	for _, s := range sinks {
		subs = append(subs, tr.Subscribe(s))
	}
	const n = 100
	var want []uint16
	for i := range n {
		seq := uint16(65500 + i) // wraps
		want = append(want, seq)
		tr.Write(audioPkt(seq, uint32(i*960)))
	}
	for i, s := range sinks {
		waitFor(t, "all packets at each sink", func() bool { return s.n.Load() == n })
		if got := s.seqs(); !slices.Equal(got, want) {
			t.Fatalf("sink %d got seqs %v, want %v", i, got, want)
		}
		if st := subs[i].Stats(); st.Sent != n || st.Dropped != 0 {
			t.Fatalf("sink %d stats %+v", i, st)
		}
	}
	if st := tr.Stats(); st.Packets != n || st.Subscribers != 3 || st.Bytes != n*8 {
		t.Fatalf("track stats %+v", st)
	}
}

func TestBlockedSinkDoesNotStallOthers(t *testing.T) {
	const queue = 8
	h := newTestHub(t, Config{SubscriberQueue: queue})
	_, tr := publishAudio(t, h, "live/a")
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })
	stuck := &recSink{block: unblock}
	b, c := &recSink{}, &recSink{}
	stuckSub := tr.Subscribe(stuck)
	tr.Subscribe(b)
	tr.Subscribe(c)

	const n = 300
	for i := range n {
		wrote := make(chan struct{})
		go func() {
			tr.Write(audioPkt(uint16(i), uint32(i*960)))
			close(wrote)
		}()
		select {
		case <-wrote:
		case <-time.After(5 * time.Second):
			t.Fatalf("Write %d blocked on the stuck sink", i)
		}
		if i == 0 {
			waitFor(t, "stuck sink to take the first packet", func() bool { return stuck.entered.Load() == 1 })
		}
		// Pace on the healthy sinks so that only the stuck one overflows.
		waitFor(t, "healthy sinks keep up", func() bool { return b.n.Load() == int64(i+1) && c.n.Load() == int64(i+1) })
	}
	st := stuckSub.Stats()
	// The stuck goroutine holds one packet and its queue holds `queue`.
	if st.Sent != 0 || st.Dropped != n-queue-1 {
		t.Fatalf("stuck subscription stats %+v, want %d dropped", st, n-queue-1)
	}
	if stuck.n.Load() != 0 {
		t.Fatal("stuck sink returned")
	}
}

func TestUnsubscribeDuringWrite(t *testing.T) {
	h := newTestHub(t, Config{SubscriberQueue: 64})
	_, tr := publishAudio(t, h, "live/a")
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				return
			default:
			}
			tr.Write(audioPkt(uint16(i), uint32(i*960)))
			if i%64 == 0 {
				runtime.Gosched()
			}
		}
	}()

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				s := &recSink{}
				var self atomic.Pointer[Subscription]
				if (g+i)%3 == 0 {
					// A sink that closes its own subscription from WriteRTP.
					s.onWrite = func(*rtp.Packet) {
						if sub := self.Load(); sub != nil {
							sub.Close()
						}
					}
				}
				sub := tr.Subscribe(s)
				self.Store(sub)
				if i%2 == 0 {
					waitFor(t, "a packet", func() bool { return s.n.Load() > 0 })
				}
				sub.Close()
				sub.Close() // idempotent
				if !isClosed(sub.Done()) {
					t.Error("Done not closed after Close")
					return
				}
				n := s.n.Load()
				waitFor(t, "more writes", func() bool { return tr.Stats().Packets > uint64(n)+100 })
				if m := s.n.Load(); m > n+1 {
					t.Errorf("sink got %d packets after Close returned", m-n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stopWriter)
	<-writerDone
	if st := tr.Stats(); st.Subscribers != 0 {
		t.Fatalf("%d subscribers left after all closed", st.Subscribers)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	src := &fakeSource{}
	h := NewHub(Config{OnDemandTimeout: 10 * time.Second}, nil)
	h.AddSource("devices/", src)
	pub, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var subs []*Subscription
	for range 10 {
		subs = append(subs, pub.Track(Audio).Subscribe(&recSink{}), pub.Track(Video).Subscribe(&recSink{}))
	}
	acquireErr := make(chan error, 1)
	go func() {
		_, err := h.Acquire(t.Context(), "devices/cam")
		acquireErr <- err
	}()
	waitFor(t, "source started", func() bool { return src.starts.Load() == 1 })

	h.Close()
	h.Close()
	for _, s := range subs {
		if !isClosed(s.Done()) {
			t.Fatal("subscription not done after Hub.Close")
		}
	}
	if err := <-acquireErr; err != ErrClosed {
		t.Fatalf("waiting Acquire returned %v, want ErrClosed", err)
	}
	if src.stops.Load() != 1 {
		t.Fatalf("source stopped %d times, want 1", src.stops.Load())
	}
	if _, err := h.Publish("live/b", []TrackInfo{audioInfo()}); err != ErrClosed {
		t.Fatalf("Publish after Close: %v", err)
	}
	if _, err := h.Acquire(t.Context(), "live/a"); err != ErrClosed {
		t.Fatalf("Acquire after Close: %v", err)
	}
	pub.Close()
	pub.Track(Audio).Write(audioPkt(1, 1))
	if s := pub.Track(Video).Subscribe(&recSink{}); !isClosed(s.Done()) {
		t.Fatal("Subscribe after Close returned a live subscription")
	}
	for _, s := range subs {
		s.Close()
	}
	waitFor(t, "subscription goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}
