package main

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// onceCodec is synthetic video of one codec from an encoder that writes its
// parameter sets once, before its first keyframe only (x264/x265 without
// repeat-headers behind an RTP payloader that adds none). The hub reads
// only NAL unit headers, so the units are headers and filler.
type onceCodec struct {
	name  string
	codec webrtc.RTPCodecParameters
	// params is one aggregation packet of all the parameter sets.
	params []byte
	// key and delta are the headers of a keyframe slice and of an inter
	// slice; the frame number follows them.
	key, delta []byte
	read       spropCodec
}

var (
	onceH264 = onceCodec{
		name: "H.264",
		codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 106},
		// STAP-A (RFC 6184 section 5.7.1) of an SPS and a PPS.
		params: aggregate([]byte{24 | 0x60},
			[]byte{0x67, 0x42, 0xe0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40},
			[]byte{0x68, 0xce, 0x3c, 0x80}),
		key:   []byte{0x65, 0x88, 0x84}, // IDR
		delta: []byte{0x41, 0x9a, 0x02}, // non-IDR slice
		read:  spropH264,
	}
	onceH265 = onceCodec{
		name: "H.265",
		codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000},
			PayloadType: 116},
		// AP (RFC 7798 section 4.4.2) of a VPS, an SPS and a PPS.
		params: aggregate([]byte{h265TypeAP << 1, 0x01},
			[]byte{h265TypeVPS << 1, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60},
			[]byte{h265TypeSPS << 1, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03},
			[]byte{h265TypePPS << 1, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40}),
		key:   []byte{21 << 1, 0x01, 0xaf}, // CRA
		delta: []byte{1 << 1, 0x01, 0xd0},  // TRAIL_R
		read:  spropH265,
	}
)

// aggregate builds an aggregation packet: hdr, then each unit after its
// 16-bit size.
func aggregate(hdr []byte, units ...[]byte) []byte {
	p := slices.Clone(hdr)
	for _, u := range units {
		p = binary.BigEndian.AppendUint16(p, uint16(len(u)))
		p = append(p, u...)
	}
	return p
}

// oncePublisher publishes a onceCodec over WHIP with a real pion peer: a
// frame every 40 ms, a keyframe every 25 frames and after each PLI, the
// parameter sets only with the first keyframe.
type oncePublisher struct {
	keys     atomic.Int64 // keyframes sent
	firstKey atomic.Int64 // frame number of the keyframe sent with the parameter sets
	forceKey atomic.Bool
	plis     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startOncePublisher(t *testing.T, ts *testServer, name string, c onceCodec) *oncePublisher {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(c.codec.RTPCodecCapability, "video", "once")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetCodecPreferences([]webrtc.RTPCodecParameters{c.codec}); err != nil {
		t.Fatal(err)
	}
	p := &oncePublisher{stop: make(chan struct{})}
	p.firstKey.Store(-1)
	go func() {
		for {
			pkts, _, err := tr.Sender().ReadRTCP()
			if err != nil {
				return
			}
			for _, pk := range pkts {
				if _, ok := pk.(*rtcp.PictureLossIndication); ok {
					p.plis.Add(1)
					p.forceKey.Store(true)
				}
			}
		}
	}()
	connect(t, pc, ts.URL+"/whip/"+name)

	frame := func(hdr []byte, n int) []byte {
		b := append(slices.Clone(hdr), make([]byte, 200)...)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
	seq := uint16(0)
	send := func(payload []byte, ts uint32, marker bool) {
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
		seq++
	}
	p.wg.Go(func() {
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		started := false
		for n := 0; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			ts := uint32(n * 3600)
			switch {
			case !started && p.plis.Load() == 0:
				// The server asks for a keyframe once it reads the track
				// (whip's onTrack): until then packets may be lost, and
				// the encoder has not started.
				send(frame(c.delta, n), ts, true)
			case !started:
				started = true
				p.forceKey.Store(false)
				p.firstKey.Store(int64(n))
				send(c.params, ts, false)
				send(frame(c.key, n), ts, true)
				p.keys.Add(1)
			case n%25 == 0 || p.forceKey.Swap(false):
				send(frame(c.key, n), ts, true)
				p.keys.Add(1)
			default:
				send(frame(c.delta, n), ts, true)
			}
		}
	})
	t.Cleanup(func() {
		close(p.stop)
		p.wg.Wait()
	})
	return p
}

// A WHIP publisher that sends its parameter sets only with its first
// keyframe: a viewer who joins later gets them from the hub, right before
// its first keyframe, with no gap in sequence numbers.
func TestParamSetsOnceOverWHIP(t *testing.T) {
	for _, c := range []onceCodec{onceH264, onceH265} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t)
			pub := startOncePublisher(t, ts, "live/once", c)
			eventually(t, 15*time.Second, "the publisher's second keyframe", func() bool { return pub.keys.Load() >= 2 })
			time.Sleep(200 * time.Millisecond) // for the server to have read it
			v := startViewer(t, ts, "live/once")
			key := checkParamsFirst(t, v.video, c.read)
			if n := int64(binary.BigEndian.Uint32(key.Payload[len(key.Payload)-4:])); n == pub.firstKey.Load() {
				t.Fatalf("the viewer's first keyframe is frame %d, the one the publisher sent with its parameter sets", n)
			}
		})
	}
}

// checkParamsFirst reads video until the first keyframe slice and checks
// that every packet up to it follows the one before without a gap, that
// the first packet starts with c's first parameter set, and that all of
// them come before the keyframe, with its timestamp. It returns the
// keyframe's packet.
func checkParamsFirst(t *testing.T, video chan *rtp.Packet, c spropCodec) *rtp.Packet {
	t.Helper()
	var before []byte
	var prev *rtp.Packet
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p := next(t, video, 5*time.Second)
		if prev != nil && p.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("%s packets %d then %d: not consecutive", c.name, prev.SequenceNumber, p.SequenceNumber)
		}
		types := c.types(p.Payload)
		if prev == nil && (len(types) == 0 || types[0] != c.params[0]) {
			t.Fatalf("the viewer's first %s packet carries NAL types %v, want %d first", c.name, types, c.params[0])
		}
		if i := slices.IndexFunc(types, c.key); i >= 0 {
			before = append(before, types[:i]...)
			if !hasAll(before, c.params) {
				t.Fatalf("%s keyframe after NAL types %v, want the parameter sets %v", c.name, before, c.params)
			}
			if prev != nil && prev.Timestamp != p.Timestamp {
				t.Fatalf("parameter sets at timestamp %d, keyframe at %d", prev.Timestamp, p.Timestamp)
			}
			t.Logf("%s keyframe (sequence number %d) after NAL types %v", c.name, p.SequenceNumber, before)
			return p
		}
		before = append(before, types...)
		prev = p
	}
	t.Fatalf("no %s keyframe within 10 s", c.name)
	return nil
}
