package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// testAdminPassword is the first admin's password in test servers.
const testAdminPassword = "correct horse battery"

// testServer is a wishcast server on loopback with real ICE sockets.
type testServer struct {
	*server
	URL string
	// AdminToken is a session token of the first admin.
	AdminToken string
}

// newTestServer starts a server with loopback-only ICE on free ports.
func newTestServer(t *testing.T, mutate ...func(*Config)) *testServer {
	t.Helper()
	ts, _ := startTestServer(t, mutate...)
	return ts
}

// startTestServer is newTestServer with a function that stops the server
// before the test ends (to restart one on the same store); the end of the
// test stops it otherwise.
func startTestServer(t *testing.T, mutate ...func(*Config)) (*testServer, func()) {
	t.Helper()
	cfg, err := loadConfig(testEnv(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mutate {
		f(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("WISHCAST_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	s, err := newServer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := s.accounts.Login(context.Background(), "admin", testAdminPassword, "test")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(asAdmin(s.handler, token))
	var once sync.Once
	stop := func() {
		once.Do(func() {
			hs.Close()
			s.close()
		})
	}
	t.Cleanup(stop)
	return &testServer{server: s, URL: hs.URL, AdminToken: token}, stop
}

// testEnv is the environment of a test server: ICE on free loopback
// ports, no demo camera, a fresh data directory, the test admin with cheap
// password hashing (every test server creates one); extra adds or
// overrides settings.
func testEnv(tb testing.TB, extra map[string]string) map[string]string {
	env := map[string]string{
		"WISHCAST_ICE_UDP_PORT":        "0",
		"WISHCAST_ICE_TCP_PORT":        "0",
		"WISHCAST_ICE_LOOPBACK":        "true",
		"WISHCAST_ICE_HOST_IPS":        "127.0.0.1",
		"WISHCAST_DEMO_CAMERA":         "false",
		"WISHCAST_DATA_DIR":            tb.TempDir(),
		"WISHCAST_PASSWORD_TIME":       "1",
		"WISHCAST_PASSWORD_MEMORY_KIB": "8192",
		"WISHCAST_ADMIN_PASSWORD":      testAdminPassword,
	}
	maps.Copy(env, extra)
	return env
}

// anonymous is a request header that keeps asAdmin from signing the
// request in.
const anonymous = "X-Test-Anonymous"

// asAdmin signs every request without an Authorization header in as the
// test admin, unless it carries the anonymous header: most tests are about
// media and HTTP rules, not permissions.
func asAdmin(next http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(anonymous) == "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		next.ServeHTTP(w, r)
	})
}

// clientAPI is a pion API for test peers: default codecs and interceptors,
// loopback candidates only.
func clientAPI(t *testing.T, first ...interceptor.Factory) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	// first (such as a bandwidth limit) see incoming packets before the
	// default interceptors do.
	for _, f := range first {
		ir.Add(f)
	}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// offerFor makes pc's complete offer (all candidates).
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
func do(t *testing.T, method, url string, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// peer is a test client with its session resource.
type peer struct {
	pc       *webrtc.PeerConnection
	location string
	etag     string
	answer   string
}

// connect posts pc's offer to url (with extra headers hdr, e.g. an
// Authorization) and applies the answer.
func connect(t *testing.T, pc *webrtc.PeerConnection, url string, hdr ...string) *peer {
	t.Helper()
	resp, body := do(t, http.MethodPost, url, offerFor(t, pc), append([]string{"Content-Type", "application/sdp"}, hdr...)...)
	return answered(t, pc, url, resp, body)
}

// answered applies the answer of a WHIP/WHEP POST that must have
// succeeded.
func answered(t *testing.T, pc *webrtc.PeerConnection, url string, resp *http.Response, body string) *peer {
	t.Helper()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("set answer: %v\n%s", err, body)
	}
	return &peer{pc: pc, location: resp.Header.Get("Location"), etag: resp.Header.Get("ETag"), answer: body}
}

// publisher sends synthetic VP8 video (a keyframe every gop frames, and
// one after each PLI, as encoders do) and Opus audio, and counts the
// keyframe requests it receives.
type publisher struct {
	*peer
	video, audio *webrtc.TrackLocalStaticRTP
	plis         atomic.Int64
	forceKey     atomic.Bool // a PLI arrived: the next frame is a keyframe
	stop         chan struct{}
	wg           sync.WaitGroup
}

// vp8Frame returns a one-packet VP8 payload: descriptor S=1 PID=0, then a
// frame tag whose P bit says key (0) or inter (1) frame.
func vp8Frame(key bool, n int) []byte {
	p := make([]byte, 200)
	p[0] = 0x10
	if key {
		p[1] = 0x00
		copy(p[4:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
	} else {
		p[1] = 0x01
	}
	p[len(p)-1] = byte(n)
	return p
}

// startPublisher publishes name, as the test admin unless hdr carries
// another Authorization.
func startPublisher(t *testing.T, ts *testServer, name string, gop int, hdr ...string) *publisher {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	video, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "pub")
	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	p := &publisher{video: video, audio: audio, stop: make(chan struct{})}
	vs, err := pc.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			pkts, _, err := vs.Sender().ReadRTCP()
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
	p.peer = connect(t, pc, ts.URL+"/whip/"+name, hdr...)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n * 1800)}, Payload: vp8Frame(n%gop == 0 || p.forceKey.Swap(false), n)})
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n * 960)}, Payload: []byte{0xfc, 0xff, 0xfe}})
		}
	}()
	t.Cleanup(p.Stop)
	return p
}

// Stop ends the send loop.
func (p *publisher) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

// viewer receives a stream and records what arrives.
type viewer struct {
	*peer
	video, audio chan *rtp.Packet
	closed       chan struct{}
}

// newViewerPC makes a viewer's peer connection; first are interceptors
// that see incoming packets before the default ones (see clientAPI).
func newViewerPC(t *testing.T, first ...interceptor.Factory) (*webrtc.PeerConnection, *viewer) {
	t.Helper()
	pc, err := clientAPI(t, first...).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc, watchPC(t, pc)
}

// watchPC returns the viewer whose channels get pc's incoming packets;
// the viewer is closed once pc fails or closes, and pc with the test.
func watchPC(t *testing.T, pc *webrtc.PeerConnection) *viewer {
	t.Helper()
	t.Cleanup(func() { _ = pc.Close() })
	v := &viewer{video: make(chan *rtp.Packet, 4096), audio: make(chan *rtp.Packet, 4096), closed: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			once.Do(func() { close(v.closed) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		ch := v.audio
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			ch = v.video
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

// startViewer views name, as the test admin unless hdr carries another
// Authorization.
func startViewer(t *testing.T, ts *testServer, name string, hdr ...string) *viewer {
	t.Helper()
	return startViewerAsync(t, ts, name, hdr...)()
}

// startViewerAsync sends the WHEP POST for name in the background (it
// may wait for an on-demand source) and returns a function that waits for
// its answer, applies it and returns the viewer.
func startViewerAsync(t *testing.T, ts *testServer, name string, hdr ...string) func() *viewer {
	t.Helper()
	pc, v := newViewerPC(t)
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	url := ts.URL + "/whep/" + name
	offer := offerFor(t, pc)
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
		if err != nil {
			done <- result{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/sdp")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp, string(b), err}
	}()
	return func() *viewer {
		t.Helper()
		r := <-done
		if r.err != nil {
			t.Fatalf("POST %s: %v", url, r.err)
		}
		v.peer = answered(t, pc, url, r.resp, r.body)
		return v
	}
}

// next waits for the next packet on ch.
func next(t *testing.T, ch chan *rtp.Packet, within time.Duration) *rtp.Packet {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(within):
		t.Fatalf("no packet within %s", within)
		return nil
	}
}

// eventually waits for cond, failing after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isVP8Key reports whether p starts a VP8 keyframe (as vp8Frame builds it).
func isVP8Key(p *rtp.Packet) bool {
	return len(p.Payload) > 1 && p.Payload[0]&0x10 != 0 && p.Payload[1]&0x01 == 0
}

var _ = bytes.Equal
var _ = context.Background

// addRecvonly adds recvonly audio and video transceivers to a viewer pc.
func addRecvonly(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
}
