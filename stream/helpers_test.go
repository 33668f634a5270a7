package stream

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// got is what a recSink keeps of one packet (the packet itself must not be
// retained).
type got struct {
	seq      uint16
	ts       uint32
	ext      bool
	profile  uint16
	nExt     int
	csrc     []uint32
	payload0 byte
	mark     uint32 // test marker carried in payload bytes 4..7, if any
	vp8Key   bool   // the payload starts a VP8 keyframe
	marker   bool   // the RTP marker bit
	pt       uint8
	ssrc     uint32
	payload  []byte // a copy
}

// recSink records packets; if block is set, WriteRTP waits for it to close.
type recSink struct {
	block   chan struct{}
	onWrite func(*rtp.Packet)

	entered atomic.Int64 // WriteRTP calls begun
	n       atomic.Int64
	mu      sync.Mutex
	gs      []got
}

func (s *recSink) WriteRTP(p *rtp.Packet) error {
	s.entered.Add(1)
	if s.block != nil {
		<-s.block
	}
	if s.onWrite != nil {
		s.onWrite(p)
	}
	g := got{seq: p.SequenceNumber, ts: p.Timestamp, ext: p.Extension, profile: p.ExtensionProfile,
		nExt: len(p.Extensions), csrc: slices.Clone(p.CSRC), marker: p.Marker, pt: p.PayloadType, ssrc: p.SSRC,
		payload: slices.Clone(p.Payload)}
	if len(p.Payload) > 0 {
		g.payload0 = p.Payload[0]
	}
	g.vp8Key = KeyframeStart("video/VP8", p.Payload)
	if len(p.Payload) >= 8 {
		g.mark = uint32(p.Payload[4])<<24 | uint32(p.Payload[5])<<16 | uint32(p.Payload[6])<<8 | uint32(p.Payload[7])
	}
	s.mu.Lock()
	s.gs = append(s.gs, g)
	s.mu.Unlock()
	s.n.Add(1)
	return nil
}

func (s *recSink) got() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gs)
}

func (s *recSink) seqs() []uint16 {
	var out []uint16
	for _, g := range s.got() {
		out = append(out, g.seq)
	}
	return out
}

// fakeSource is a func-field Source.
type fakeSource struct {
	start func(name string) error
	stop  func(name string)

	starts, stops atomic.Int32
}

func (f *fakeSource) Start(_ context.Context, name string) error {
	f.starts.Add(1)
	if f.start != nil {
		return f.start(name)
	}
	return nil
}

func (f *fakeSource) Stop(name string) {
	f.stops.Add(1)
	if f.stop != nil {
		f.stop(name)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func newTestHub(t testing.TB, cfg Config) *Hub {
	t.Helper()
	h := NewHub(cfg, nil)
	t.Cleanup(h.Close)
	return h
}

// numStreams returns the number of names the hub holds.
func (h *Hub) numStreams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// leasesOf returns the number of leases of name.
func (h *Hub) leasesOf(name string) int { return h.Viewers(name) }

var (
	vp8Codec  = Codec{MimeType: "video/VP8", ClockRate: 90000}
	h264Codec = Codec{MimeType: "video/H264", ClockRate: 90000, Fmtp: "packetization-mode=1"}
	opusCodec = Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2}
)

// kfCounter is a RequestKeyframe callback that counts calls.
type kfCounter struct{ n atomic.Int32 }

func (k *kfCounter) request() { k.n.Add(1) }

func videoInfo(c Codec, kf *kfCounter) TrackInfo {
	info := TrackInfo{Kind: Video, Codec: c}
	if kf != nil {
		info.RequestKeyframe = kf.request
	}
	return info
}

func audioInfo() TrackInfo { return TrackInfo{Kind: Audio, Codec: opusCodec} }

// VP8 payloads: descriptor byte, then the VP8 payload header's first byte,
// then a 4-byte marker the tests use to identify packets.
const (
	vp8Start = 0x10 // S=1, PID=0
	vp8Cont  = 0x00 // continuation of a partition
	vp8Key   = 0x00 // P=0
	vp8Inter = 0x01 // P=1
)

func vp8Payload(desc, hdr byte, mark uint32) []byte {
	return []byte{desc, hdr, 0x9d, 0x01, byte(mark >> 24), byte(mark >> 16), byte(mark >> 8), byte(mark)}
}

func pkt(seq uint16, ts uint32, payload []byte) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 0x1234}, Payload: payload}
}

// keyPkt and interPkt are VP8 packets that start a keyframe or an inter frame.
func keyPkt(seq uint16, ts uint32) *rtp.Packet {
	return pkt(seq, ts, vp8Payload(vp8Start, vp8Key, uint32(seq)))
}

func interPkt(seq uint16, ts uint32) *rtp.Packet {
	return pkt(seq, ts, vp8Payload(vp8Start, vp8Inter, uint32(seq)))
}

func contPkt(seq uint16, ts uint32) *rtp.Packet {
	return pkt(seq, ts, vp8Payload(vp8Cont, 0xff, uint32(seq)))
}

func audioPkt(seq uint16, ts uint32) *rtp.Packet {
	return pkt(seq, ts, []byte{0xfc, 0, 0, 0, byte(seq >> 8), byte(seq), 0, 0})
}
