package whip_test

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
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
	"github.com/wishcast/wishcast/whip"
)

// env is a WHIP endpoint on loopback ICE sockets of its own, with the hub
// it publishes into and the session resource for DELETE.
type env struct {
	hub *stream.Hub
	// url is the base URL: POST url+"/whip/{name}", DELETE url+Location.
	url string
}

// newEnv builds the real parts: the session API and manager, a hub with
// cfg, and the WHIP endpoint served at /whip/{name} next to /sessions/{id}.
func newEnv(t *testing.T, cfg stream.Config) *env {
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

	h := whip.New(whip.Options{Sessions: sessions, Hub: hub})
	mux := http.NewServeMux()
	mux.Handle("/whip/", h.Endpoint(func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/whip/") }))
	mux.Handle("/sessions/", sessions.Handler(func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/sessions/") }))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{hub: hub, url: srv.URL}
}

// clientAPI is a pion API for test peers: codecs registers the codecs
// (nil: pion's defaults), with the default interceptors and loopback IPv4
// UDP candidates only.
func clientAPI(t *testing.T, codecs func(*webrtc.MediaEngine) error) *webrtc.API {
	t.Helper()
	if codecs == nil {
		codecs = (*webrtc.MediaEngine).RegisterDefaultCodecs
	}
	m := &webrtc.MediaEngine{}
	if err := codecs(m); err != nil {
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
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// newPC returns a peer connection of api that is closed when the test ends.
func newPC(t *testing.T, api *webrtc.API) *webrtc.PeerConnection {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// offerFor makes pc's complete offer (all candidates gathered).
func offerFor(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, url, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
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

// postOffer posts pc's offer to publish name.
func postOffer(t *testing.T, e *env, pc *webrtc.PeerConnection, name string) (*http.Response, string) {
	t.Helper()
	return do(t, http.MethodPost, e.url+"/whip/"+name, "application/sdp", offerFor(t, pc))
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

// publisher is a WHIP client that sends synthetic VP8 video every 20 ms:
// inter frames only, except that the frame after a PLI or FIR is a
// keyframe, as encoders answer keyframe requests. It counts the requests
// it receives and the keyframes it sends.
type publisher struct {
	pc       *webrtc.PeerConnection
	location string // the session resource
	answer   string // the server's SDP answer

	requests atomic.Int64 // PLI and FIR received on the video sender
	keys     atomic.Int64 // keyframes sent
	forceKey atomic.Bool  // a request arrived: the next frame is a keyframe

	stop chan struct{}
	wg   sync.WaitGroup
}

// startPublisher publishes name and starts sending; it fails the test
// unless the server answers 201.
func startPublisher(t *testing.T, e *env, name string) *publisher {
	t.Helper()
	pc := newPC(t, clientAPI(t, nil))
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "pub")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := pc.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{pc: pc, stop: make(chan struct{})}
	p.wg.Go(func() { p.readRTCP(tr.Sender()) })
	resp, body := postOffer(t, e, pc, name)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish %s: %d %s", name, resp.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("set answer: %v\n%s", err, body)
	}
	p.location, p.answer = resp.Header.Get("Location"), body
	p.wg.Go(func() { p.send(video) })
	t.Cleanup(p.close)
	return p
}

// readRTCP counts the keyframe requests reaching the video sender, until
// the peer connection closes.
func (p *publisher) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				// Counted before the keyframe is due, so a viewer that got
				// the keyframe proves the request was counted.
				p.requests.Add(1)
				p.forceKey.Store(true)
			}
		}
	}
}

// send writes one frame every 20 ms until close.
func (p *publisher) send(video *webrtc.TrackLocalStaticRTP) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		key := p.forceKey.Swap(false)
		if key {
			p.keys.Add(1)
		}
		_ = video.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n * 1800)},
			Payload: vp8Frame(key, n),
		})
	}
}

// close stops sending and closes the peer connection; it is idempotent.
func (p *publisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	_ = p.pc.Close()
	p.wg.Wait()
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
