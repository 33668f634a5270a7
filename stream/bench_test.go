package stream

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtp"
)

// countSink counts packets; padded so that sinks on different cores do not
// share a cache line.
type countSink struct {
	n atomic.Uint64
	_ [56]byte
}

func (s *countSink) WriteRTP(*rtp.Packet) error {
	s.n.Add(1)
	return nil
}

// BenchmarkFanout writes b.N 1200-byte VP8-like packets through Track.Write
// to 1, 10, 100 and 1000 subscribers with counting no-op sinks, and waits
// until every subscriber has received or dropped all of them. ns/op is per
// inbound packet; ns/delivered is wall time per packet handed to a sink.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

// BenchmarkFanoutH264 is BenchmarkFanout for an H.264 track whose
// keyframes come as STAP-A(SPS, PPS) then an FU-A IDR, so each keyframe
// passes the parameter set bookkeeping (a repeat of the sets already
// known, and an IDR that lacks them).
func BenchmarkFanoutH264(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchFanoutH264(b, n) })
	}
}

func benchFanout(b *testing.B, subscribers int) {
	key := make([]byte, 1200)
	key[0], key[1] = vp8Start, vp8Key
	inter := make([]byte, 1200)
	inter[0], inter[1] = vp8Start, vp8Inter
	runFanout(b, vp8Codec, subscribers, func(i int) []byte {
		if i%300 == 0 { // a keyframe every 60 frames
			return key
		}
		return inter
	})
}

func benchFanoutH264(b *testing.B, subscribers int) {
	params := []byte{0x78, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 3, 0x68, 0xce, 0x3c}
	idr := make([]byte, 1200)
	idr[0], idr[1] = 0x7c, 0x85 // FU-A start of an IDR
	slice := make([]byte, 1200)
	slice[0] = 0x41 // a non-IDR slice
	runFanout(b, h264Codec, subscribers, func(i int) []byte {
		switch i % 300 { // a keyframe every 60 frames
		case 0:
			return params
		case 1:
			return idr
		}
		return slice
	})
}

// runFanout publishes codec, subscribes counting sinks and writes b.N
// packets whose payloads payload(i) gives.
func runFanout(b *testing.B, codec Codec, subscribers int, payload func(i int) []byte) {
	// The stream's queue as deep as the run (so the benchmark measures
	// delivery, not drops), within 256 MiB.
	queue := min(b.N+1, (256<<20)/int(unsafe.Sizeof(fanItem{})))
	h := NewHub(Config{SubscriberQueue: queue, KeyframeRequestInterval: time.Hour}, nil)
	defer h.Close()
	pub, err := h.Publish("bench/fanout", []TrackInfo{{Kind: Video, Codec: codec}})
	if err != nil {
		b.Fatal(err)
	}
	tr := pub.Track(Video)

	pkts := make([]rtp.Packet, b.N)
	for i := range pkts {
		p := &pkts[i]
		p.Version, p.PayloadType, p.SSRC = 2, 96, 1
		p.SequenceNumber = uint16(i)
		p.Timestamp = uint32(i/5) * 3000 // five packets per frame
		p.Marker = i%5 == 4
		p.Payload = payload(i)
	}

	sinks := make([]*countSink, subscribers)
	subs := make([]*Subscription, subscribers)
	for i := range sinks {
		sinks[i] = &countSink{}
		subs[i] = tr.Subscribe(sinks[i])
	}
	runtime.GC()

	b.ReportAllocs()
	b.ResetTimer()
	for i := range pkts {
		tr.Write(&pkts[i])
	}
	var delivered, dropped uint64
	for i, s := range subs {
		for {
			st := s.Stats()
			got := sinks[i].n.Load()
			if got+st.Dropped+st.Skipped >= uint64(b.N) {
				delivered += got
				dropped += st.Dropped
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()

	elapsed := b.Elapsed()
	if delivered > 0 {
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(delivered), "ns/delivered")
	}
	b.ReportMetric(float64(dropped), "drops")
	b.ReportMetric(float64(delivered)/float64(b.N), "delivered/op")
	for _, s := range subs {
		s.Close()
	}
}

// BenchmarkFanoutLayers is BenchmarkFanout for viewers of a simulcast
// stream: three layers written in turn (b.N packets in all), every
// subscriber forwarding the first through SubscribeLayers, so ns/delivered
// compares with BenchmarkFanout's: the cost of layer forwarding.
func BenchmarkFanoutLayers(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			queue := min(b.N+1, (256<<20)/int(unsafe.Sizeof(fanItem{})))
			h := NewHub(Config{SubscriberQueue: queue, KeyframeRequestInterval: time.Hour}, nil)
			defer h.Close()
			var infos []TrackInfo
			for _, rid := range []string{"f", "h", "q"} {
				infos = append(infos, TrackInfo{Kind: Video, Codec: vp8Codec, Layer: rid})
			}
			pub, err := h.Publish("bench/layers", infos)
			if err != nil {
				b.Fatal(err)
			}
			layers := []*Track{pub.Layer("f"), pub.Layer("h"), pub.Layer("q")}
			key := make([]byte, 1200)
			key[0], key[1] = vp8Start, vp8Key
			inter := make([]byte, 1200)
			inter[0], inter[1] = vp8Start, vp8Inter
			pkts := make([]rtp.Packet, b.N)
			for i := range pkts {
				p := &pkts[i]
				p.Version, p.PayloadType, p.SSRC = 2, 96, uint32(i%3)
				p.SequenceNumber = uint16(i / 3)
				p.Timestamp = uint32(i/15) * 3000
				p.Payload = inter
				if i%900 < 3 {
					p.Payload = key
				}
			}
			sinks := make([]*countSink, n)
			subs := make([]*Subscription, n)
			for i := range sinks {
				sinks[i] = &countSink{}
				subs[i] = SubscribeLayers(layers, 0, sinks[i])
			}
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range pkts {
				layers[i%3].Write(&pkts[i])
			}
			want := uint64((b.N + 2) / 3) // the packets of layer f
			var delivered uint64
			for i, s := range subs {
				for {
					st := s.Stats()
					if got := sinks[i].n.Load(); got+st.Dropped+st.Skipped >= want {
						delivered += got
						break
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
			b.StopTimer()
			if delivered > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "ns/delivered")
			}
			for _, s := range subs {
				s.Close()
			}
		})
	}
}
