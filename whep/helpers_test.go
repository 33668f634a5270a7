package whep

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// testEnv is a WHEP endpoint on loopback ICE sockets of its own, with the
// hub it serves streams from.
type testEnv struct {
	hub      *stream.Hub
	api      *session.API
	sessions *session.Manager
	url      string // base URL: POST url+"/whep/{name}"
}

// newTestEnv builds the real parts: the session API and manager, a hub
// with cfg, and the WHEP endpoint served at /whep/{name}.
func newTestEnv(t *testing.T, cfg stream.Config) *testEnv {
	t.Helper()
	scfg := session.Config{UDPPort: 0, TCPPort: -1, Loopback: true, HostIPs: []string{"127.0.0.1"}}
	api, err := session.NewAPI(scfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	sessions := session.NewManager(scfg, api, nil)
	t.Cleanup(sessions.CloseAll)
	hub := stream.NewHub(cfg, nil)
	t.Cleanup(hub.Close)
	hub.SetBatcher(api.Batcher())
	h := New(Options{Sessions: sessions, Hub: hub})
	srv := httptest.NewServer(h.Endpoint(func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/whep/") }))
	t.Cleanup(srv.Close)
	return &testEnv{hub: hub, api: api, sessions: sessions, url: srv.URL}
}

// vp8Frame returns a one-packet VP8 payload: descriptor S=1 PID=0, then a
// frame tag whose P bit says key (0) or inter (1) frame; n marks it.
func vp8Frame(key bool, n int) []byte {
	p := make([]byte, 200)
	p[0] = 0x10
	if key {
		copy(p[1:], []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
	} else {
		p[1] = 0x01
	}
	p[len(p)-1] = byte(n)
	return p
}

// hubPublisher publishes Opus audio and VP8 video on the hub directly and
// writes a frame of each every 20 ms: the first video frame and the one
// after each keyframe request are keyframes, the rest inter frames. It
// counts the keyframe requests the hub passes on.
type hubPublisher struct {
	requests atomic.Int64 // calls of the video track's RequestKeyframe
	forceKey atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
	// leave ends the publication (once; also at the test's end).
	leave func()
}

// publish starts a hubPublisher of name on hub.
func publish(t *testing.T, hub *stream.Hub, name string) *hubPublisher {
	t.Helper()
	p := &hubPublisher{stop: make(chan struct{})}
	p.forceKey.Store(true)
	pub, err := hub.Publish(name, []stream.TrackInfo{
		{Kind: stream.Audio, Codec: stream.Codec{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"}},
		{Kind: stream.Video, Codec: stream.Codec{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, RequestKeyframe: func() {
			p.requests.Add(1)
			p.forceKey.Store(true)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	audio, video := pub.Track(stream.Audio), pub.Track(stream.Video)
	p.wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			// Fresh packets: the hub keeps them.
			video.Write(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n * 1800), SSRC: 1},
				Payload: vp8Frame(p.forceKey.Swap(false), n)})
			audio.Write(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n * 960), SSRC: 2},
				Payload: []byte{0xfc, 0xff, 0xfe}})
		}
	})
	var once sync.Once
	p.leave = func() {
		once.Do(func() {
			close(p.stop)
			p.wg.Wait()
			pub.Close()
		})
	}
	t.Cleanup(p.leave)
	return p
}

// testViewer is a pion WHEP client that records what it receives.
type testViewer struct {
	pc           *webrtc.PeerConnection
	video, audio chan *rtp.Packet // packets received, oldest first
	// videoSSRC is the SSRC of the video track received, once it arrived.
	videoSSRC atomic.Uint32
}

// newTestViewer returns a viewer whose offer has an audio and a video
// section in direction dir (recvonly or sendrecv; a sendrecv viewer sends
// tracks of one MediaStream, as WHIP and WHEP need).
func newTestViewer(t *testing.T, dir webrtc.RTPTransceiverDirection) *testViewer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	v := &testViewer{pc: pc, video: make(chan *rtp.Packet, 4096), audio: make(chan *rtp.Packet, 4096)}
	for _, c := range []webrtc.RTPCodecCapability{
		{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	} {
		kind := webrtc.RTPCodecTypeAudio
		if strings.HasPrefix(c.MimeType, "video/") {
			kind = webrtc.RTPCodecTypeVideo
		}
		if dir == webrtc.RTPTransceiverDirectionRecvonly {
			_, err = pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir})
		} else {
			var tr *webrtc.TrackLocalStaticSample
			if tr, err = webrtc.NewTrackLocalStaticSample(c, kind.String(), "viewer"); err == nil {
				_, err = pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: dir})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		ch := v.audio
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			ch = v.video
			v.videoSSRC.Store(uint32(tr.SSRC()))
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case ch <- p:
			default:
			}
		}
	})
	return v
}

// view posts v's offer for name and returns the response and its body.
func (v *testViewer) view(t *testing.T, e *testEnv, name string) (*http.Response, string) {
	t.Helper()
	offer, err := v.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return post(t, e.url+"/whep/"+name, v.pc.LocalDescription().SDP)
}

// post sends an SDP offer and returns the response with its body read.
func post(t *testing.T, url, offer string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/sdp", strings.NewReader(offer))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// next waits for the next packet on ch, failing the test after d.
func next(t *testing.T, ch chan *rtp.Packet, d time.Duration, what string) *rtp.Packet {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(d):
		t.Fatalf("no %s packet within %s", what, d)
		return nil
	}
}

// eventually waits for cond, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
