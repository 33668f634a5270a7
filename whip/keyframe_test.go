package whip_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/wishcast/wishcast/stream"
)

// frame is the publisher's frame interval (see publisher.send).
const frame = 20 * time.Millisecond

// sink is a stream.Sink standing in for a viewer: it keeps a copy of the
// first payload it gets and counts the packets.
type sink struct {
	mu    sync.Mutex
	first []byte
	n     int
}

// WriteRTP implements stream.Sink.
func (s *sink) WriteRTP(p *rtp.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.first = slices.Clone(p.Payload)
	}
	s.n++
	return nil
}

// received returns the first payload and the packet count.
func (s *sink) received() ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.n
}

// videoTrack returns the hub's video track of name, holding a lease on the
// stream until the test ends.
func videoTrack(t *testing.T, hub *stream.Hub, name string) *stream.Track {
	t.Helper()
	lease, err := hub.Acquire(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lease.Release)
	for _, tr := range lease.Tracks() {
		if tr.Kind() == stream.Video {
			return tr
		}
	}
	t.Fatalf("stream %s has no video track", name)
	return nil
}

// subscribe subscribes one sink per viewer to track, all at once.
func subscribe(t *testing.T, track *stream.Track, viewers int) []*sink {
	t.Helper()
	sinks := make([]*sink, viewers)
	subs := make([]*stream.Subscription, viewers)
	var wg sync.WaitGroup
	for i := range sinks {
		sinks[i] = &sink{}
		wg.Go(func() { subs[i] = track.Subscribe(sinks[i]) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range subs {
			s.Close()
		}
	})
	return sinks
}

// startKeyframes waits until every sink has its first packet and checks
// that each starts with a keyframe.
func startKeyframes(t *testing.T, sinks []*sink) {
	t.Helper()
	eventually(t, 5*time.Second, "every viewer's first packet", func() bool {
		for _, s := range sinks {
			if _, n := s.received(); n == 0 {
				return false
			}
		}
		return true
	})
	for i, s := range sinks {
		if first, _ := s.received(); !stream.KeyframeStart("video/VP8", first) {
			t.Errorf("viewer %d: first packet is not a keyframe start (payload % x)", i, first[:min(len(first), 4)])
		}
	}
}

// watch waits until every sink has received at least n packets: n frames
// of the publisher's time during which a keyframe request could arrive.
func watch(t *testing.T, sinks []*sink, n int) {
	t.Helper()
	eventually(t, time.Duration(n)*frame+5*time.Second, "viewers to keep receiving", func() bool {
		for _, s := range sinks {
			if _, got := s.received(); got < n {
				return false
			}
		}
		return true
	})
}

// firstKeyframe waits until whip's request on the publisher's arrival has
// reached the publisher and been answered with a keyframe.
func firstKeyframe(t *testing.T, pub *publisher) {
	t.Helper()
	eventually(t, 10*time.Second, "the keyframe request whip sends when the video track arrives", func() bool {
		return pub.requests.Load() >= 1 && pub.keys.Load() >= 1
	})
	if n := pub.requests.Load(); n != 1 {
		t.Fatalf("publisher got %d keyframe requests on arrival, want 1", n)
	}
}

// A viewer joining a stream whose keyframe cache cannot serve it (the
// publisher's keyframe is older than the cache holds) makes wishcast ask
// the publisher for a keyframe: exactly once however many viewers join
// together, and each of them starts with that keyframe, not with frames
// it cannot decode.
func TestJoinWithoutCacheRequestsOneKeyframe(t *testing.T) {
	const (
		interval = 400 * time.Millisecond
		cacheMax = 8 // packets: the cache overflows 160 ms after a keyframe
		viewers  = 5
	)
	e := newEnv(t, stream.Config{KeyframeRequestInterval: interval, KeyframeCachePackets: cacheMax})
	pub := startPublisher(t, e, "live/nocache")
	firstKeyframe(t, pub)
	track := videoTrack(t, e.hub, "live/nocache")

	// Let the stream settle: the keyframe went by, the cache overflowed
	// and more than a request interval passed, all in packets seen.
	settled := track.Stats().Packets + cacheMax + uint64(interval/frame) + 2
	eventually(t, 10*time.Second, "the keyframe cache to overflow", func() bool {
		st := track.Stats()
		return st.Packets >= settled && st.CachedPackets == 0
	})
	if got := pub.requests.Load(); got != 1 {
		t.Fatalf("publisher got %d keyframe requests before any viewer, want 1", got)
	}
	// The request on arrival went through the hub too (and is counted).
	before := track.Stats().KeyframeRequestsSent

	sinks := subscribe(t, track, viewers)
	// The request goes out as they join, not a request interval later
	// when waiting viewers would ask again.
	if st := track.Stats(); st.KeyframeRequestsSent-before != 1 {
		t.Errorf("hub sent %d keyframe requests as %d viewers joined, want 1", st.KeyframeRequestsSent-before, viewers)
	}
	startKeyframes(t, sinks)
	if got := pub.requests.Load() - 1; got != 1 {
		t.Errorf("%d viewers joining together caused %d keyframe requests, want 1", viewers, got)
	}
	// Longer than two request intervals: no viewer asks again.
	watch(t, sinks, int(2*interval/frame)+5)
	if got := pub.requests.Load() - 1; got != 1 {
		t.Errorf("after the join settled the publisher had %d keyframe requests for it, want 1", got)
	}
	st := track.Stats()
	if st.KeyframeRequestsSent-before != 1 || st.KeyframeRequestsCoalesced < viewers-1 {
		t.Errorf("hub sent %d keyframe requests and coalesced %d, want 1 and at least %d",
			st.KeyframeRequestsSent-before, st.KeyframeRequestsCoalesced, viewers-1)
	}
}

// Viewers joining while the keyframe cache holds the publisher's latest
// keyframe start from it, and the publisher is not asked for another.
func TestJoinFromCacheRequestsNoKeyframe(t *testing.T) {
	const interval = 400 * time.Millisecond
	e := newEnv(t, stream.Config{KeyframeRequestInterval: interval}) // default cache: 2048 packets
	pub := startPublisher(t, e, "live/cached")
	firstKeyframe(t, pub)
	track := videoTrack(t, e.hub, "live/cached")
	eventually(t, 5*time.Second, "the keyframe in the cache", func() bool { return track.Stats().CachedPackets > 0 })
	before := track.Stats().KeyframeRequestsSent // the request on arrival

	first := subscribe(t, track, 1)
	startKeyframes(t, first)
	second := subscribe(t, track, 1)
	startKeyframes(t, second)
	watch(t, append(first, second...), int(2*interval/frame)+5)
	if got := pub.requests.Load() - 1; got != 0 {
		t.Errorf("joins served from the cache caused %d keyframe requests, want 0", got)
	}
	if st := track.Stats(); st.CacheJoins != 2 || st.KeyframeRequestsSent != before {
		t.Errorf("hub counted %d cache joins and sent %d keyframe requests, want 2 and 0", st.CacheJoins, st.KeyframeRequestsSent-before)
	}
}
