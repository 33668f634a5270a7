package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// tcpCounter forwards TCP connections to a target and counts them: an
// RTSP camera that knows how often it was dialled.
type tcpCounter struct {
	ln    net.Listener
	dials atomic.Int64
	wg    sync.WaitGroup
}

// countDials listens on a free loopback port and forwards to target.
func countDials(t *testing.T, target string) *tcpCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCounter{ln: ln}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.dials.Add(1)
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			c.wg.Add(2)
			pipe := func(a, b net.Conn) {
				defer c.wg.Done()
				_, _ = io.Copy(a, b)
				_ = a.Close()
				_ = b.Close()
			}
			go pipe(in, out)
			go pipe(out, in)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return c
}

// codecAPI is clientAPI for a viewer that decodes only the given codecs
// (as a browser without an H.264 decoder offers).
func codecAPI(t *testing.T, codecs ...webrtc.RTPCodecParameters) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	for _, c := range codecs {
		k := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			k = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, k); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

var (
	vp9Only = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"}, PayloadType: 98}
	vp8Only = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	h264Any = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102}
	opusOnly = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
)

// offerOnly returns a recvonly audio+video offer of a viewer that decodes
// only codecs, with its peer connection.
func offerOnly(t *testing.T, codecs ...webrtc.RTPCodecParameters) (*webrtc.PeerConnection, string) {
	t.Helper()
	pc, err := codecAPI(t, codecs...).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	addRecvonly(t, pc)
	return pc, offerFor(t, pc)
}

// A viewer whose browser cannot play a camera's codec is refused from
// what the camera last described: the camera is not dialled again for
// each refusal, and a viewer who can play it still gets it.
func TestCodecRefusalDoesNotDialCamera(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0")
	dials := countDials(t, cam.Addr())
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"porch=" + strings.Replace(cam.URL(), cam.Addr(), dials.ln.Addr().String(), 1) + "#tcp"}
		c.Stream.OnDemandGrace = 200 * time.Millisecond
	})
	refuse := func() {
		t.Helper()
		// No transcode makes VP9.
		_, offer := offerOnly(t, vp9Only, opusOnly)
		resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/porch", offer, "Content-Type", "application/sdp")
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "H264") || !strings.Contains(body, "VP9") {
			t.Fatalf("VP9-only viewer of an H.264 camera: %d %s; want 422 naming both codecs", resp.StatusCode, body)
		}
	}
	refuse() // nothing known yet: the camera is dialled to learn its tracks
	if n := dials.dials.Load(); n != 1 {
		t.Fatalf("first refusal dialled the camera %d times, want 1", n)
	}
	eventually(t, 10*time.Second, "the camera to be hung up", func() bool {
		return cameraStatus(t, ts, "porch").State == "idle"
	})
	refuse()
	refuse()
	time.Sleep(300 * time.Millisecond)
	if n := dials.dials.Load(); n != 1 {
		t.Fatalf("two refusals after the camera was described dialled it %d more times, want none", n-1)
	}
	v := startViewer(t, ts, "devices/porch")
	next(t, v.video, 15*time.Second)
	if n := dials.dials.Load(); n != 2 {
		t.Fatalf("a viewer who can play the camera: %d dials in all, want 2", n)
	}
}

// An admin's "Test connection" learns the camera's codecs as a viewer's
// dial does: the device list shows them and refusals need no dial; and
// they are still known after a restart (kept in the data directory).
func TestCameraCodecsFromTestKeptAcrossRestart(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0")
	dials := countDials(t, cam.Addr())
	dir := t.TempDir()
	cfg := func(c *Config) {
		c.DataDir = dir
		c.Camera.Devices = []string{"porch=" + strings.Replace(cam.URL(), cam.Addr(), dials.ln.Addr().String(), 1) + "#tcp"}
		c.Transcode.FFmpeg = "/nonexistent/ffmpeg" // no transcode: a VP9-only viewer is refused
	}
	listed := func(ts *testServer) string {
		t.Helper()
		_, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", "")
		return body
	}
	refuse := func(ts *testServer) {
		t.Helper()
		_, offer := offerOnly(t, vp9Only, opusOnly)
		if resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/porch", offer, "Content-Type", "application/sdp"); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("VP9-only viewer: %d %s; want 422", resp.StatusCode, body)
		}
	}
	ts, stop := startTestServer(t, cfg)
	if body := listed(ts); strings.Contains(body, `"codecs"`) {
		t.Fatalf("codecs listed before the camera was ever dialled: %s", body)
	}
	resp, body := do(t, http.MethodPost, ts.URL+"/api/v1/devices/porch/test", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok":true`) || !strings.Contains(body, `"codecs":["audio opus","video H264"]`) ||
		!strings.Contains(body, `"every_browser":false`) || !strings.Contains(body, `"only_some_browsers":["video H264"]`) {
		t.Fatalf("test connection: %d %s; want the codecs and who plays them", resp.StatusCode, body)
	}
	if body := listed(ts); !strings.Contains(body, `"codecs":["audio opus","video H264"]`) {
		t.Fatalf("device list after the test: %s; want its codecs", body)
	}
	refuse(ts)
	if n := dials.dials.Load(); n != 1 {
		t.Fatalf("the test and a refusal dialled the camera %d times, want 1 (the test)", n)
	}
	stop()

	ts, _ = startTestServer(t, cfg)
	if body := listed(ts); !strings.Contains(body, `"codecs":["audio opus","video H264"]`) {
		t.Fatalf("device list after a restart: %s; want the codecs of the last run", body)
	}
	refuse(ts)
	time.Sleep(300 * time.Millisecond)
	if n := dials.dials.Load(); n != 1 {
		t.Fatalf("a refusal after the restart dialled the camera (%d dials in all, want 1)", n)
	}
}

// The codecs kept across restarts belong to the camera a device dialled:
// a device that dials another camera after the restart (its URL changed
// in the settings meanwhile) is neither listed with the old camera's
// codecs nor refuses viewers from them.
func TestCameraCodecsForgottenWhenCameraChanges(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0")
	dir := t.TempDir()
	url := cam.URL()
	cfg := func(c *Config) {
		c.DataDir = dir
		c.Camera.Devices = []string{"porch=" + url + "#tcp"}
	}
	ts, stop := startTestServer(t, cfg)
	resp, body := do(t, http.MethodPost, ts.URL+"/api/v1/devices/porch/test", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"codecs":["audio opus","video H264"]`) {
		t.Fatalf("test connection: %d %s; want its codecs", resp.StatusCode, body)
	}
	stop()

	url = strings.Replace(cam.URL(), "127.0.0.1", "localhost", 1) // another camera, as far as anyone can tell
	ts, _ = startTestServer(t, cfg)
	if _, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", ""); strings.Contains(body, `"codecs"`) {
		t.Fatalf("device list after its camera changed: %s; want no codecs until it is dialled", body)
	}
}
