package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/rtsp/democam"
)

// withDemo turns the built-in demo camera on, on a free port.
func withDemo(c *Config) {
	c.Camera.DemoCamera = true
	c.Camera.DemoAddr = "127.0.0.1:0"
	c.Stream.OnDemandGrace = 300 * time.Millisecond
}

// h264Types lists the NAL unit types an RTP H.264 payload carries.
func h264Types(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	switch t := p[0] & 0x1f; t {
	case 24: // STAP-A
		var out []byte
		for b := p[1:]; len(b) > 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				break
			}
			out = append(out, b[2]&0x1f)
			b = b[2+n:]
		}
		return out
	case 28: // FU-A
		if len(p) > 1 && p[1]&0x80 != 0 {
			return []byte{p[1] & 0x1f}
		}
		return nil
	default:
		return []byte{t}
	}
}

// The demo camera plays over WHEP: H.264 that starts with SPS/PPS/IDR in
// WebRTC-sized packets, and Opus; the camera connection is shared by two
// viewers and closed after the grace period once they leave.
func TestDemoCameraOverWHEP(t *testing.T) {
	ts := newTestServer(t, withDemo)
	v := startViewer(t, ts, "devices/demo")
	first := next(t, v.video, 15*time.Second)
	if got := h264Types(first.Payload); len(got) == 0 || got[0] != 7 {
		t.Fatalf("first video packet carries NAL types %v, want an SPS first", got)
	}
	for range 100 {
		if p := next(t, v.video, 5*time.Second); len(p.Payload) > 1200 {
			t.Fatalf("video payload of %d bytes", len(p.Payload))
		}
	}
	next(t, v.audio, 5*time.Second)
	second := startViewer(t, ts, "devices/demo")
	next(t, second.video, 10*time.Second)
	st := cameraStatus(t, ts, "demo")
	if st.State != rtsp.StateLive || st.Video != "H264" || st.Audio != "Opus" || st.Reconnects != 0 || st.Connections != 1 || st.Viewers != 2 {
		t.Fatalf("status %+v", st)
	}
	for _, p := range []*viewer{v, second} {
		if resp, _ := do(t, http.MethodDelete, ts.URL+p.location, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE: %d", resp.StatusCode)
		}
	}
	eventually(t, 10*time.Second, "the camera to be hung up", func() bool {
		return cameraStatus(t, ts, "demo").State == rtsp.StateIdle
	})
}

func cameraStatus(t *testing.T, ts *testServer, name string) rtsp.Status {
	t.Helper()
	list, err := ts.cameras.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no camera %q", name)
	return rtsp.Status{}
}

// The device list shows status and never a camera's credentials.
func TestDeviceListHidesCredentials(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"gate=rtsp://admin:hunter2@127.0.0.1:9/s#tcp"}
	})
	resp, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"gate"`) || !strings.Contains(body, `"stream":"devices/gate"`) || !strings.Contains(body, `"state":"idle"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "hunter2") || strings.Contains(body, "admin@") {
		t.Fatalf("device list leaks the camera's credentials to an admin: %s", body)
	}
	bob := tokenFor(t, ts, "bob")
	if _, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", "", "Authorization", "Bearer "+bob); strings.Contains(body, "rtsp://") || !strings.Contains(body, `"name":"gate"`) {
		t.Fatalf("device list for a user: %s", body)
	}
	if resp, _ := do(t, http.MethodGet, ts.URL+"/api/v1/devices", "", anonymous, "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous device list: %d", resp.StatusCode)
	}
}

// A camera nobody answers for gives 409 with Retry-After in bounded time,
// naming the device.
func TestUnreachableCamera409(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"gone=rtsp://127.0.0.1:9/stream#tcp"}
		c.Stream.OnDemandTimeout = 5 * time.Second
	})
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	start := time.Now()
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/gone", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `camera \"gone\"`) ||
		!strings.Contains(body, "does not answer") || strings.Contains(body, "dial tcp") {
		t.Fatalf("got %d %s; want 409 saying in words that the camera does not answer", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("409 took %s", d)
	}
	// The raw error is for admins, in the device status.
	if st := cameraStatus(t, ts, "gone"); !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("status lacks the raw error: %+v", st)
	}
}

// A camera that accepts the connection and then says nothing gives 409
// with Retry-After once the on-demand timeout has passed, not a hang.
func TestSilentCamera409(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"mute=rtsp://" + ln.Addr().String() + "/s#tcp"}
		c.Stream.OnDemandTimeout = time.Second
	})
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	start := time.Now()
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/mute", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "devices/mute") {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("409 after %s, want about the 1s on-demand timeout", d)
	}
}

// When the camera goes away and comes back, the viewer keeps its WHEP
// session and media resumes with continuous sequence numbers.
func TestCameraRestartKeepsViewer(t *testing.T) {
	cam, err := democam.New(democam.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	addr := cam.Addr()
	t.Cleanup(func() { cam.Close() })
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"door=" + cam.URL() + "#tcp"}
		c.Camera.ReconnectMin = 100 * time.Millisecond
		c.Camera.ReconnectMax = 200 * time.Millisecond
	})
	v := startViewer(t, ts, "devices/door")
	last := next(t, v.video, 15*time.Second)
	cam.Close() // the camera dies
	cam2, err := democam.New(democam.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam2.Close() })
	eventually(t, 15*time.Second, "the camera to reconnect", func() bool {
		return cameraStatus(t, ts, "door").Reconnects >= 1
	})
	// Drain, then check media keeps coming on the same session with no
	// sequence jump beyond what was lost in between.
	var prev *rtp.Packet = last
	deadline := time.Now().Add(15 * time.Second)
	got := 0
	for got < 50 && time.Now().Before(deadline) {
		p := next(t, v.video, 10*time.Second)
		if d := p.SequenceNumber - prev.SequenceNumber; d == 0 || d > 1000 {
			t.Fatalf("sequence number jumped from %d to %d across the reconnect", prev.SequenceNumber, p.SequenceNumber)
		}
		prev = p
		got++
	}
	if v.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		t.Fatalf("viewer state %s", v.pc.ConnectionState())
	}
}

// Real FFmpeg pushes H.264 with AAC into an RTSP server; the camera plays
// its video, and its AAC as Opus through a transcode.
func TestFFmpegCameraAACPlaysAsOpus(t *testing.T) {
	url := ffmpegCamera(t, "cam1", "sine=frequency=1000:sample_rate=48000", "-c:a", "aac")
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"ff=" + url + "#tcp"}
		c.Camera.ReconnectMin = 200 * time.Millisecond
		c.Stream.OnDemandTimeout = 15 * time.Second
	})
	v := viewUntilCreated(t, ts, "devices/ff")
	for range 30 {
		next(t, v.video, 15*time.Second)
	}
	for range 20 {
		if p := next(t, v.audio, 15*time.Second); len(p.Payload) == 0 {
			t.Fatal("empty Opus payload")
		}
	}
	if !strings.Contains(v.answer, "opus/48000") || strings.Contains(strings.ToLower(v.answer), "mpeg4-generic") {
		t.Fatalf("answer does not send Opus:\n%s", v.answer)
	}
	o, media := codecViewer(t, ts, "devices/ff", h264Any, opusOnly)
	if media != "audio=opus;from=AAC, video=H264" {
		t.Fatalf("Wishcast-Media %q", media)
	}
	for range 20 {
		if p := next(t, o.audio, 15*time.Second); len(p.Payload) == 0 {
			t.Fatal("empty Opus payload")
		}
	}
	st := cameraStatus(t, ts, "ff")
	if st.Video != "H264" || st.Audio != "AAC" {
		t.Fatalf("status %+v", st)
	}
	if _, body := do(t, http.MethodGet, ts.URL+"/api/v1/devices", ""); !strings.Contains(body, `"codecs":["audio AAC","video H264"],"every_browser":false`) {
		t.Fatalf("device list does not say the camera's codecs and that not every browser plays them: %s", body)
	} else if !strings.Contains(body, `"transcoded":["audio AAC","video H264"]`) {
		t.Fatalf("device list does not say that browsers without H.264 or AAC get a transcode: %s", body)
	}
}

// A camera over UDP transport plays too.
func TestCameraOverUDP(t *testing.T) {
	cam, err := democam.New(democam.Options{Addr: "127.0.0.1:0", UDP: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	ts := newTestServer(t, func(c *Config) { c.Camera.Devices = []string{"yard=" + cam.URL() + "#udp"} })
	v := startViewer(t, ts, "devices/yard")
	for range 20 {
		next(t, v.video, 15*time.Second)
	}
	next(t, v.audio, 5*time.Second)
}

// G.711 from a camera (real FFmpeg, PCMU) passes through to the viewer.
func TestFFmpegCameraPCMU(t *testing.T) {
	url := ffmpegCamera(t, "g711", "sine=frequency=1000:sample_rate=8000", "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1")
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"phone=" + url + "#tcp"}
		c.Camera.ReconnectMin = 200 * time.Millisecond
	})
	v := viewUntilCreated(t, ts, "devices/phone")
	for range 10 {
		if p := next(t, v.audio, 15*time.Second); len(p.Payload) == 0 {
			t.Fatal("empty audio payload")
		}
	}
	if st := cameraStatus(t, ts, "phone"); st.Audio != "G711" || st.Video != "H264" {
		t.Fatalf("status %+v", st)
	}
}

// ffmpegCamera has real FFmpeg push 30 s of H.264 test pattern with the
// given audio source and encoder options into an RTSP server, as a camera
// at path would serve it, and returns the camera's URL.
func ffmpegCamera(t *testing.T, path, audioSrc string, audioArgs ...string) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (CI installs it)")
	}
	cam, err := democam.New(democam.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", audioSrc,
		"-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p"}
	args = append(args, audioArgs...)
	args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", cam.PathURL(path))
	push := exec.Command(ffmpeg, args...)
	if err := push.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = push.Process.Kill(); _ = push.Wait() })
	return cam.PathURL(path)
}

// viewUntilCreated retries a WHEP POST until it gets 201: a camera pushed
// by FFmpeg answers 404 until FFmpeg has started, and viewers get 409.
func viewUntilCreated(t *testing.T, ts *testServer, name string) *viewer {
	t.Helper()
	var v *viewer
	eventually(t, 15*time.Second, name+" to play", func() bool {
		pc, vv := newViewerPC(t)
		addRecvonly(t, pc)
		resp, body := do(t, http.MethodPost, ts.URL+"/whep/"+name, offerFor(t, pc), "Content-Type", "application/sdp")
		if resp.StatusCode != http.StatusCreated {
			_ = pc.Close()
			return false
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
			t.Fatal(err)
		}
		vv.peer = &peer{pc: pc, location: resp.Header.Get("Location"), answer: body}
		v = vv
		return true
	})
	return v
}

// A hostile camera that answers DESCRIBE with an endless SDP is refused
// with an error, and the server carries on.
func TestHostileCameraHugeSDP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					req := string(buf[:n])
					cseq := "1"
					for _, l := range strings.Split(req, "\r\n") {
						if v, ok := strings.CutPrefix(l, "CSeq: "); ok {
							cseq = v
						}
					}
					if strings.HasPrefix(req, "OPTIONS") {
						_, _ = c.Write([]byte("RTSP/1.0 200 OK\r\nCSeq: " + cseq + "\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n"))
						continue
					}
					// DESCRIBE: claim 100 MB of SDP and stream garbage lines.
					_, _ = c.Write([]byte("RTSP/1.0 200 OK\r\nCSeq: " + cseq + "\r\nContent-Type: application/sdp\r\nContent-Length: 104857600\r\n\r\nv=0\r\n"))
					line := []byte("a=x-junk:" + strings.Repeat("A", 1000) + "\r\n")
					for range 100000 {
						if _, err := c.Write(line); err != nil {
							return
						}
					}
					return
				}
			}(c)
		}
	}()
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"evil=rtsp://" + ln.Addr().String() + "/s#tcp"}
		c.Stream.OnDemandTimeout = 3 * time.Second
	})
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/evil", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if st := cameraStatus(t, ts, "evil"); st.LastError == "" {
		t.Fatalf("no error reported: %+v", st)
	}
	// The server still serves.
	if resp, _ := do(t, http.MethodGet, ts.URL+"/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}

// Admins add, replace and remove cameras over the API; users may only
// list them; credentials never come back, and a camera added this way
// plays.
func TestDevicesAPI(t *testing.T) {
	cam, err := democam.New(democam.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	ts := newTestServer(t)
	bob := tokenFor(t, ts, "bob")
	withCreds := strings.Replace(cam.URL(), "rtsp://", "rtsp://user:s3cr3t@", 1)
	body := `{"url":"` + withCreds + `","transport":"tcp"}`
	resp, _ := do(t, http.MethodPut, ts.URL+"/api/v1/devices/porch", body, "Content-Type", "application/json", "Authorization", "Bearer "+bob)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("user adds a camera: %d", resp.StatusCode)
	}
	resp, out := do(t, http.MethodPut, ts.URL+"/api/v1/devices/porch", body, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated || strings.Contains(out, "s3cr3t") || strings.Contains(out, "user:") {
		t.Fatalf("admin adds a camera: %d %s", resp.StatusCode, out)
	}
	resp, out = do(t, http.MethodPut, ts.URL+"/api/v1/devices/porch", `{"url":"http://10.0.0.1/"}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "rtsp") {
		t.Fatalf("http URL: %d %s", resp.StatusCode, out)
	}
	for _, tok := range []string{ts.AdminToken, bob} {
		resp, out = do(t, http.MethodGet, ts.URL+"/api/v1/devices", "", "Authorization", "Bearer "+tok)
		if resp.StatusCode != http.StatusOK || !strings.Contains(out, `"name":"porch"`) || strings.Contains(out, "s3cr3t") || strings.Contains(out, "user:") {
			t.Fatalf("list: %d %s", resp.StatusCode, out)
		}
	}
	v := startViewer(t, ts, "devices/porch")
	next(t, v.video, 15*time.Second)
	if resp, _ := do(t, http.MethodDelete, ts.URL+"/api/v1/devices/porch", "", "Authorization", "Bearer "+bob); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("user removes a camera: %d", resp.StatusCode)
	}
	resp, out = do(t, http.MethodPost, ts.URL+"/api/v1/devices/porch/test", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, `"ok":true`) || !strings.Contains(out, `"video":"H264"`) {
		t.Fatalf("test connection: %d %s", resp.StatusCode, out)
	}
	if resp, _ := do(t, http.MethodDelete, ts.URL+"/api/v1/devices/porch", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("admin removes the camera: %d", resp.StatusCode)
	}
	id := strings.TrimPrefix(v.location, "/sessions/")
	eventually(t, 5*time.Second, "the viewer of a removed camera to be disconnected", func() bool { return ts.sessions.Get(id) == nil })
	if resp, _ := do(t, http.MethodDelete, ts.URL+"/api/v1/devices/porch", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second removal: %d", resp.StatusCode)
	}
}

// A restricted camera is listed and played only for admins and the users
// it names; a camera outside the allowed networks is refused when saved,
// not when someone watches; a test of an unreachable camera says why.
func TestRestrictedDevice(t *testing.T) {
	ts := newTestServer(t)
	bob, carol := tokenFor(t, ts, "bob"), tokenFor(t, ts, "carol")
	resp, out := do(t, http.MethodPut, ts.URL+"/api/v1/devices/vault", `{"url":"rtsp://127.0.0.1:9/s","restricted":true,"viewers_allowed":["carol"]}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated || !strings.Contains(out, `"viewers_allowed":["carol"]`) {
		t.Fatalf("add restricted: %d %s", resp.StatusCode, out)
	}
	if _, out := do(t, http.MethodGet, ts.URL+"/api/v1/devices", "", "Authorization", "Bearer "+bob); strings.Contains(out, "vault") {
		t.Fatalf("bob sees a camera he may not view: %s", out)
	}
	if _, out := do(t, http.MethodGet, ts.URL+"/api/v1/devices", "", "Authorization", "Bearer "+carol); !strings.Contains(out, `"name":"vault"`) || strings.Contains(out, "rtsp://") {
		t.Fatalf("carol's list: %s", out)
	}
	pc, _ := newViewerPC(t)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	resp, out = do(t, http.MethodPost, ts.URL+"/whep/devices/vault", offerFor(t, pc), "Content-Type", "application/sdp", "Authorization", "Bearer "+bob)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob views a restricted camera: %d %s", resp.StatusCode, out)
	}
	resp, out = do(t, http.MethodPut, ts.URL+"/api/v1/devices/meta", `{"url":"rtsp://169.254.169.254/latest"}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, `"code":"network_refused"`) || !strings.Contains(out, "RTSP_ALLOWED_NETWORKS") {
		t.Fatalf("link-local camera: %d %s", resp.StatusCode, out)
	}
	resp, out = do(t, http.MethodPost, ts.URL+"/api/v1/devices/vault/test", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, `"ok":false`) || !strings.Contains(out, `"error":`) {
		t.Fatalf("test of an unreachable camera: %d %s", resp.StatusCode, out)
	}
}

// Cameras of an older version's JSON list are imported into the database
// once, and the file is set aside.
func TestDevicesFileImported(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "devices.json")
	if err := os.WriteFile(file, []byte(`[{"name":"old","url":"rtsp://10.0.0.5/s","transport":"udp"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
	if _, out := do(t, http.MethodGet, ts.URL+"/api/v1/devices", ""); !strings.Contains(out, `"name":"old"`) || !strings.Contains(out, `"transport":"udp"`) || !strings.Contains(out, `"stored":true`) {
		t.Fatalf("imported camera missing: %s", out)
	}
	if _, err := os.Stat(file + ".imported"); err != nil {
		t.Fatalf("file not set aside: %v", err)
	}
}
