package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/rtsp/democam"
)

// startCamera serves the demo clip as an RTSP camera on addr
// ("127.0.0.1:0" for a free port) until the test ends or it is closed.
func startCamera(t *testing.T, addr string) *democam.Server {
	t.Helper()
	cam, err := democam.New(democam.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	return cam
}

// A camera that reboots for longer than the orphan timeout keeps its
// viewers: their sessions stay up while it is redialled, a viewer who
// comes meanwhile hears that it is reconnecting, and the picture resumes
// on the same session with continuous sequence numbers.
func TestCameraOutageKeepsViewers(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0")
	addr := cam.Addr()
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"door=" + cam.URL() + "#tcp"}
		c.Camera.ReconnectMin = 100 * time.Millisecond
		c.Camera.ReconnectMax = 300 * time.Millisecond
		c.Camera.OutageHold = time.Minute
		c.Stream.OrphanTimeout = 500 * time.Millisecond
	})
	v := startViewer(t, ts, "devices/door")
	last := next(t, v.video, 15*time.Second)
	cam.Close()

	eventually(t, 10*time.Second, "the camera to be seen down", func() bool {
		return cameraStatus(t, ts, "door").State != "live"
	})
	// Three times the orphan timeout: the viewer would have been ended.
	outage := time.After(1500 * time.Millisecond)
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/door", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "reconnecting") {
		t.Fatalf("a new viewer during the outage got %d %s; want 409 saying the camera is reconnecting", resp.StatusCode, body)
	}
	<-outage
	select {
	case <-v.closed:
		t.Fatal("the viewer's session ended during the camera's outage")
	default:
	}
	drain(v.video)

	startCamera(t, addr)
	p := next(t, v.video, 15*time.Second)
	if d := p.SequenceNumber - last.SequenceNumber; d == 0 || d > 1000 {
		t.Fatalf("sequence number jumped from %d to %d across the outage", last.SequenceNumber, p.SequenceNumber)
	}
	if st := v.pc.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("viewer state %s after the outage", st)
	}
}

// A camera that stays away longer than RTSP_OUTAGE_HOLD ends its viewers'
// sessions, and nothing keeps dialling it afterwards.
func TestCameraOutageHoldEnds(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0")
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"gate=" + cam.URL() + "#tcp"}
		c.Camera.ReconnectMin = 100 * time.Millisecond
		c.Camera.ReconnectMax = 200 * time.Millisecond
		c.Camera.OutageHold = 1500 * time.Millisecond
		c.Stream.OnDemandGrace = 200 * time.Millisecond
	})
	v := startViewer(t, ts, "devices/gate")
	next(t, v.video, 15*time.Second)
	dropped := time.Now()
	cam.Close()
	select {
	case <-v.closed:
	case <-time.After(15 * time.Second):
		t.Fatal("the viewer's session outlived the outage hold by far")
	}
	if d := time.Since(dropped); d < time.Second {
		t.Fatalf("the viewer was ended %s after the camera dropped, before the hold", d)
	}
	eventually(t, 10*time.Second, "the camera to be idle", func() bool {
		return cameraStatus(t, ts, "gate").State == "idle"
	})
}

// A camera that answers with an RTSP error is explained to its viewers in
// words they can act on; the raw status line is kept for admins.
func TestCameraErrorInWords(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0")
	ts := newTestServer(t, func(c *Config) {
		c.Camera.Devices = []string{"typo=" + strings.TrimSuffix(cam.URL(), "/demo") + "/no-such-path#tcp"}
	})
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/typo", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "no stream at the address") || strings.Contains(body, "bad status code") {
		t.Fatalf("got %d %s; want 409 saying the camera has no stream at that path", resp.StatusCode, body)
	}
	if st := cameraStatus(t, ts, "typo"); !strings.Contains(st.LastError, "404") {
		t.Fatalf("the device status lacks the raw error: %+v", st)
	}
}

// drain empties ch.
func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
