package whep

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// A viewer that moves from one simulcast layer to another NACKs packets
// from both sides of the switch and gets each back as it first came: the
// same numbering (which continues across the switch), timestamp, marker
// and the layer's own payload, on the one SSRC it is sent. This runs the
// hub's rewrite, the viewer track's in-place header and the server's
// interceptor chain, without the network.
func TestRetransmissionAcrossLayerSwitch(t *testing.T) {
	hub := stream.NewHub(stream.Config{KeyframeRequestInterval: time.Hour}, nil)
	t.Cleanup(hub.Close)
	vp8 := stream.Codec{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	pub, err := hub.Publish("live/sim", []stream.TrackInfo{{Kind: stream.Video, Codec: vp8, Layer: "hi"}, {Kind: stream.Video, Codec: vp8, Layer: "lo"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	hi, lo := pub.Layer("hi"), pub.Layer("lo")

	_, ir, err := session.Interceptors(session.Config{}, nil, new(session.RetransmitCounts))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ir.Build("viewer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	chain.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil }))
	const ssrc = 0xabc
	var mu sync.Mutex
	var wire []*rtp.Packet // what reaches SRTP, copied
	w := chain.BindLocalStream(&interceptor.StreamInfo{SSRC: ssrc, PayloadType: 96, ClockRate: 90000, MimeType: webrtc.MimeTypeVP8,
		RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}},
		interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			wire = append(wire, &rtp.Packet{Header: h.Clone(), Payload: bytes.Clone(payload)})
			return len(payload), nil
		}))
	var rtcpIn [][]byte
	reader := chain.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		d := rtcpIn[0]
		rtcpIn = rtcpIn[1:]
		return copy(b, d), a, nil
	}))
	local, err := newSendTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "sim")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Bind(&benchContext{ssrc: ssrc, w: w}); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(wire)
	}
	waitSent := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); sent() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d packets sent to the viewer, want %d", sent(), n)
			}
		}
	}

	sub := stream.SubscribeLayers([]*stream.Track{hi, lo}, 0, local)
	t.Cleanup(sub.Close)
	write := func(tr *stream.Track, seq uint16, key bool) {
		tr.Write(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: seq%2 == 1, SequenceNumber: seq, Timestamp: uint32(seq) * 1500, SSRC: uint32(seq / 1000)},
			Payload: vp8Frame(key, int(seq))})
	}
	for seq := uint16(1000); seq < 1010; seq++ { // hi: a keyframe, then inter frames
		write(hi, seq, seq == 1000)
	}
	waitSent(10)
	sub.SwitchLayer(1)
	write(lo, 5000, false) // lo before its keyframe: not sent
	write(hi, 1010, false) // hi goes on until the switch
	waitSent(11)
	for seq := uint16(5001); seq < 5010; seq++ { // lo: the keyframe that switches, then inter frames
		write(lo, seq, seq == 5001)
	}
	waitSent(20)

	mu.Lock()
	orig := append([]*rtp.Packet(nil), wire...)
	mu.Unlock()
	var seqs []uint16
	for i, p := range orig {
		if p.SSRC != ssrc || (i > 0 && p.SequenceNumber != orig[i-1].SequenceNumber+1) {
			t.Fatalf("packet %d sent as SSRC %x seq %d after %d", i, p.SSRC, p.SequenceNumber, orig[max(i-1, 0)].SequenceNumber)
		}
		seqs = append(seqs, p.SequenceNumber)
	}
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
	if err != nil {
		t.Fatal(err)
	}
	rtcpIn = append(rtcpIn, b)
	if _, _, err := reader.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	again := wire[len(orig):]
	mu.Unlock()
	if len(again) != len(orig) {
		t.Fatalf("%d packets sent again for a NACK of %d", len(again), len(orig))
	}
	for i, p := range again {
		o := orig[i]
		if p.SequenceNumber != o.SequenceNumber || p.Timestamp != o.Timestamp || p.Marker != o.Marker || p.SSRC != ssrc || p.PayloadType != o.PayloadType || !bytes.Equal(p.Payload, o.Payload) {
			t.Fatalf("packet %d sent again as seq %d ts %d marker %v ssrc %x pt %d (payload equal: %v), first sent as seq %d ts %d marker %v pt %d",
				i, p.SequenceNumber, p.Timestamp, p.Marker, p.SSRC, p.PayloadType, bytes.Equal(p.Payload, o.Payload), o.SequenceNumber, o.Timestamp, o.Marker, o.PayloadType)
		}
	}
	// The layers' own payloads: hi's before the switch, lo's after.
	if orig[10].Payload[len(orig[10].Payload)-1] != byte(1010%256) || orig[11].Payload[len(orig[11].Payload)-1] != byte(5001%256) {
		t.Fatalf("the switch is not between packets 10 and 11")
	}
}
