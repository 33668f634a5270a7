package main

import (
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
)

// FFmpeg 8's WHIP muxer, as wishcast sees it: fixed payload types (106
// H.264 packetization-mode 1 without B-frames, 111 Opus stereo), no
// rtcp-fb lines, no header extensions, no candidates, a=setup:passive
// (the server is the DTLS client) and "a=group:BUNDLE 0 1" even when its
// only section is video (mid 1). It misses the server's first
// ClientHello, answers STUN only during the handshake and ignores RTCP.
var (
	ffmpegH264 = webrtc.RTPCodecParameters{PayloadType: 106, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}}
	ffmpegOpus = webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	}}
)

// ffmpegAPI is a pion API with FFmpeg's codecs only, no interceptors (so
// no header extensions, NACK or RTCP reports) and loopback host
// candidates, from which it reaches the server through a udpRelay. Its
// ICE never gives up on the server: FFmpeg has no such timeout.
func ffmpegAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(ffmpegH264, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(ffmpegOpus, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	se.SetICETimeouts(time.Minute, time.Minute, 2*time.Second)
	// An empty registry: NewAPI would otherwise add pion's defaults.
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
}

// ffmpegOffer turns pion's offer into FFmpeg's shape: no candidates and
// no ice-options, a=setup:passive, and for a video-only offer the video
// section as mid 1 in a "BUNDLE 0 1" group.
func ffmpegOffer(t *testing.T, offer string, videoOnly bool) string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		t.Fatalf("parse offer: %v", err)
	}
	sd.Attributes = withoutAttrs(sd.Attributes, "ice-options")
	for _, md := range sd.MediaDescriptions {
		md.Attributes = withoutAttrs(md.Attributes, "candidate", "end-of-candidates", "ice-options")
		if !setAttr(md.Attributes, "setup", "passive") {
			t.Fatalf("offer section without a=setup:\n%s", offer)
		}
		if videoOnly {
			setAttr(md.Attributes, "mid", "1")
		}
	}
	if !setAttr(sd.Attributes, "group", "BUNDLE 0 1") {
		t.Fatalf("offer without a BUNDLE group:\n%s", offer)
	}
	out, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// ffmpegPublisher is a publisher shaped like FFmpeg 8's WHIP muxer, all
// of whose packets pass through relay.
type ffmpegPublisher struct {
	pc    *webrtc.PeerConnection
	relay *udpRelay
	// sess is the publisher's session on the server.
	sess *session.Session
	// connect is the time from the WHIP POST to the publisher's peer
	// connection being connected.
	connect time.Duration
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startFFmpegPublisher publishes name with H.264 (and Opus if withAudio)
// as FFmpeg does, and sends media once it has connected. The relay drops
// the server's first DTLS packet and, once connected, the STUN that
// FFmpeg would leave unanswered.
func startFFmpegPublisher(t *testing.T, ts *testServer, name string, withAudio bool) *ffmpegPublisher {
	t.Helper()
	pc, err := ffmpegAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &ffmpegPublisher{pc: pc, relay: newUDPRelay(t), stop: make(chan struct{})}
	p.relay.dropDTLS.Store(1)

	var audio *webrtc.TrackLocalStaticRTP
	if withAudio {
		audio, err = webrtc.NewTrackLocalStaticRTP(ffmpegOpus.RTPCodecCapability, "audio", "FFmpeg")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	video, err := webrtc.NewTrackLocalStaticRTP(ffmpegH264.RTPCodecCapability, "video", "FFmpeg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	connected := make(chan time.Time, 1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			select {
			case connected <- time.Now():
			default:
			}
		}
	})

	offer := ffmpegOffer(t, offerFor(t, pc), !withAudio)
	url := ts.URL + "/whip/" + name
	start := time.Now()
	resp, body := do(t, http.MethodPost, url, offer, "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %s\noffer:\n%s", url, resp.StatusCode, body, offer)
	}
	if !strings.Contains(body, "a=setup:active") {
		t.Fatalf("the server is not the DTLS client:\n%s", body)
	}
	answer := p.relay.rewriteAnswer(t, body)
	if !withAudio {
		// pion named its one section mid 0; FFmpeg's offer said 1.
		answer = renameMid(t, answer, "1", "0")
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("set answer: %v\n%s", err, answer)
	}
	select {
	case at := <-connected:
		p.connect = at.Sub(start)
	case <-time.After(10 * time.Second):
		t.Fatalf("FFmpeg-shaped publisher not connected after 10s (%s)", pc.ConnectionState())
	}
	p.relay.quiet.Store(true)
	if p.sess = ts.sessions.Get(path.Base(resp.Header.Get("Location"))); p.sess == nil {
		t.Fatalf("no server session at %q", resp.Header.Get("Location"))
	}

	p.wg.Go(func() { p.send(video, audio) })
	t.Cleanup(p.Stop)
	return p
}

// H.264 NAL units of the synthetic stream (constrained baseline, as
// FFmpeg's muxer requires: no B-frames).
var (
	h264SPS = []byte{0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x8d, 0x40, 0x50, 0x1e, 0xd0, 0x0f, 0x08, 0x84, 0x6a}
	h264PPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

// h264Slice returns a slice NAL unit: IDR (type 5) or not (type 1).
func h264Slice(idr bool, n int) []byte {
	p := make([]byte, 300)
	p[0], p[1] = 0x41, 0x9a
	if idr {
		p[0], p[1] = 0x65, 0x88
	}
	p[len(p)-1] = byte(n)
	return p
}

// send writes a frame every 20 ms, as single NAL unit packets, with a
// keyframe (SPS, PPS, IDR) every second, and an Opus packet with each
// frame if audio is set, until Stop.
func (p *ffmpegPublisher) send(video, audio *webrtc.TrackLocalStaticRTP) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		nals := [][]byte{h264Slice(false, n)}
		if n%50 == 0 {
			nals = [][]byte{h264SPS, h264PPS, h264Slice(true, n)}
		}
		for i, nal := range nals {
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{
				Version: 2, Marker: i == len(nals)-1, SequenceNumber: seq, Timestamp: uint32(n * 1800),
			}, Payload: nal})
			seq++
		}
		if audio != nil {
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n * 960)}, Payload: []byte{0xfc, 0xff, 0xfe}})
		}
	}
}

// Stop ends the send loop (the peer connection stays open).
func (p *ffmpegPublisher) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}
