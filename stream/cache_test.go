package stream

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func publishVideo(t *testing.T, h *Hub, c Codec, kf *kfCounter) *Track {
	t.Helper()
	p, err := h.Publish("live/v", []TrackInfo{videoInfo(c, kf)})
	if err != nil {
		t.Fatal(err)
	}
	return p.Track(Video)
}

func seqRange(from, n int) []uint16 {
	var out []uint16
	for i := range n {
		out = append(out, uint16(from+i))
	}
	return out
}

func TestJoinMidGOPStartsFromCache(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	var kf kfCounter
	tr := publishVideo(t, h, vp8Codec, &kf)

	// An old GOP that must not be sent, then the current one: a keyframe
	// in three packets (one timestamp) and five inter frames.
	tr.Write(keyPkt(1, 0))
	tr.Write(interPkt(2, 3000))
	tr.Write(keyPkt(3, 6000))
	tr.Write(contPkt(4, 6000))
	tr.Write(contPkt(5, 6000))
	for i := range 5 {
		tr.Write(interPkt(uint16(6+i), uint32(9000+3000*i)))
	}
	if st := tr.Stats(); st.CachedPackets != 8 {
		t.Fatalf("cache holds %d packets, want 8", st.CachedPackets)
	}
	s := &recSink{}
	sub := tr.Subscribe(s)
	for i := range 3 {
		tr.Write(interPkt(uint16(11+i), uint32(24000+3000*i)))
	}
	waitFor(t, "cached and live packets", func() bool { return s.n.Load() == 11 })
	if got, want := s.seqs(), seqRange(3, 11); !slices.Equal(got, want) {
		t.Fatalf("got seqs %v, want %v", got, want)
	}
	if g := s.got()[0]; !g.vp8Key || g.ts != 6000 {
		t.Fatalf("first packet %+v is not the keyframe", g)
	}
	st := tr.Stats()
	if st.CacheJoins != 1 || st.KeyframeRequestsSent != 0 || kf.n.Load() != 0 {
		t.Fatalf("stats %+v, %d upstream requests; want a cache join and no request", st, kf.n.Load())
	}
	if ss := sub.Stats(); ss.Sent != 11 || ss.Skipped != 0 {
		t.Fatalf("subscription stats %+v", ss)
	}
}

func TestJoinWithoutCacheWaitsForKeyframe(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	var kf kfCounter
	tr := publishVideo(t, h, vp8Codec, &kf)
	tr.Write(interPkt(1, 0)) // no keyframe seen yet
	s := &recSink{}
	sub := tr.Subscribe(s)
	if kf.n.Load() != 1 || tr.Stats().KeyframeRequestsSent != 1 {
		t.Fatalf("%d upstream keyframe requests, want 1", kf.n.Load())
	}
	for i := range 5 {
		tr.Write(interPkt(uint16(2+i), uint32(3000*(i+1))))
	}
	waitFor(t, "inter frames to be skipped", func() bool { return sub.Stats().Skipped == 5 })
	if n := s.n.Load(); n != 0 {
		t.Fatalf("sink got %d packets before a keyframe", n)
	}
	tr.Write(keyPkt(7, 18000))
	tr.Write(contPkt(8, 18000))
	tr.Write(interPkt(9, 21000))
	waitFor(t, "packets from the keyframe on", func() bool { return s.n.Load() == 3 })
	if got := s.seqs(); !slices.Equal(got, seqRange(7, 3)) {
		t.Fatalf("got seqs %v", got)
	}
	if st := tr.Stats(); st.CacheJoins != 0 || st.KeyframeRequestsSent != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCacheOverflowInvalidates(t *testing.T) {
	h := newTestHub(t, Config{KeyframeCachePackets: 4, KeyframeRequestInterval: time.Hour})
	var kf kfCounter
	tr := publishVideo(t, h, vp8Codec, &kf)
	tr.Write(keyPkt(1, 0))
	for i := range 3 {
		tr.Write(interPkt(uint16(2+i), uint32(3000*(i+1))))
	}
	if st := tr.Stats(); st.CachedPackets != 4 {
		t.Fatalf("cache holds %d, want 4", st.CachedPackets)
	}
	tr.Write(interPkt(5, 12000))
	if st := tr.Stats(); st.CachedPackets != 0 {
		t.Fatalf("cache past its limit still valid (%d packets)", st.CachedPackets)
	}
	s := &recSink{}
	tr.Subscribe(s)
	if kf.n.Load() != 1 {
		t.Fatal("joining with an invalid cache sent no keyframe request")
	}
	tr.Write(keyPkt(6, 15000))
	waitFor(t, "the next keyframe", func() bool { return s.n.Load() == 1 })
	if st := tr.Stats(); st.CachedPackets != 1 {
		t.Fatalf("new keyframe did not restart the cache: %+v", st)
	}
}

func TestCacheKeepsParameterSetsWithKeyframe(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, h264Codec, nil)
	tr.Write(pkt(1, 100, []byte{0x67, 0x42})) // SPS
	tr.Write(pkt(2, 100, []byte{0x68, 0xce})) // PPS
	tr.Write(pkt(3, 100, []byte{0x65, 0x88})) // IDR, same timestamp
	tr.Write(pkt(4, 3100, []byte{0x41, 0x9a}))
	if st := tr.Stats(); st.CachedPackets != 4 {
		t.Fatalf("cache holds %d packets, want SPS, PPS, IDR and the next slice", st.CachedPackets)
	}
	tr.Write(pkt(5, 6100, []byte{0x67, 0x42})) // next keyframe: new cache
	if st := tr.Stats(); st.CachedPackets != 1 {
		t.Fatalf("cache holds %d packets after a new keyframe, want 1", st.CachedPackets)
	}
}

// TestJoinDuringWriteHasNoGap subscribes while a writer runs: every
// subscriber must see a keyframe first and then consecutive packets.
func TestJoinDuringWriteHasNoGap(t *testing.T) {
	h := newTestHub(t, Config{SubscriberQueue: 1 << 15, KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, vp8Codec, nil)
	stop := make(chan struct{})
	last := make(chan uint16, 1)
	tr.Write(keyPkt(0, 0)) // every subscriber can start from the cache
	go func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				last <- uint16(i - 1)
				return
			default:
			}
			if i%50 == 0 {
				tr.Write(keyPkt(uint16(i), uint32(i*100)))
			} else {
				tr.Write(interPkt(uint16(i), uint32(i*100)))
			}
			if i%8 == 0 {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	var subs []*Subscription
	var sinks []*recSink
	for range 20 {
		time.Sleep(time.Millisecond)
		s := &recSink{}
		sinks = append(sinks, s)
		subs = append(subs, tr.Subscribe(s))
	}
	close(stop)
	end := <-last
	for i, s := range sinks {
		waitFor(t, "the last packet", func() bool {
			g := s.got()
			return len(g) > 0 && g[len(g)-1].seq == end
		})
		g := s.got()
		if subs[i].Stats().Dropped != 0 {
			t.Fatalf("subscriber %d dropped packets", i)
		}
		if !g[0].vp8Key {
			t.Fatalf("subscriber %d started at seq %d, not a keyframe", i, g[0].seq)
		}
		for j := 1; j < len(g); j++ {
			if g[j].seq != g[j-1].seq+1 {
				t.Fatalf("subscriber %d: seq %d follows %d", i, g[j].seq, g[j-1].seq)
			}
		}
	}
	if st := tr.Stats(); st.CacheJoins != 20 {
		t.Fatalf("%d cache joins, want 20", st.CacheJoins)
	}
}

func TestKeyframeRequestsCoalesced(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	var kf kfCounter
	tr := publishVideo(t, h, vp8Codec, &kf)
	tr.Write(keyPkt(1, 0)) // valid cache: subscribing sends no request
	sub := tr.Subscribe(&recSink{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub.RequestKeyframe()
		}()
	}
	wg.Wait()
	st := tr.Stats()
	if kf.n.Load() != 1 || st.KeyframeRequestsSent != 1 || st.KeyframeRequestsCoalesced != 9 {
		t.Fatalf("%d upstream, stats %+v; want 1 sent and 9 coalesced", kf.n.Load(), st)
	}
	sub.Close()
	sub.RequestKeyframe()
	if kf.n.Load() != 1 {
		t.Fatal("a closed subscription's request reached the publisher")
	}
}

func TestKeyframeRequestAfterInterval(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: 20 * time.Millisecond})
	var kf kfCounter
	tr := publishVideo(t, h, vp8Codec, &kf)
	tr.Write(keyPkt(1, 0))
	sub := tr.Subscribe(&recSink{})
	start := time.Now()
	waitFor(t, "a second request after the interval", func() bool {
		sub.RequestKeyframe()
		return kf.n.Load() == 2
	})
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("second request after %v, within the interval", d)
	}
}
