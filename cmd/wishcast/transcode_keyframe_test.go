package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// A viewer of a transcoded camera who loses the picture and sends a PLI
// gets a VP8 keyframe within a few frames, not at the transcode's next
// periodic keyframe (every 2 s) nor the camera's (the demo camera's IDR
// every 2 s; an RTSP camera takes no requests at all).
func TestTranscodedKeyframeOnPLI(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (CI installs it)")
	}
	ts := newTestServer(t, withDemo, withTranscodes)
	v, _ := codecViewer(t, ts, "devices/demo", vp8Only, opusOnly)
	waitVP8Key(t, v, 15*time.Second)
	// Let the hub's coalescing of keyframe requests (500 ms) pass after
	// any request made while the viewer joined.
	time.Sleep(600 * time.Millisecond)
	for i := range 3 {
		// Ask 300 ms after a keyframe: the next periodic one is 1.7 s away.
		waitVP8Key(t, v, 5*time.Second)
		time.Sleep(300 * time.Millisecond)
		var ssrc uint32
		select {
		case p := <-v.video:
			ssrc = p.SSRC
		case <-time.After(5 * time.Second):
			t.Fatal("no video")
		}
		drain(v.video)
		asked := time.Now()
		if err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatal(err)
		}
		waitVP8Key(t, v, 3*time.Second)
		took := time.Since(asked)
		t.Logf("PLI %d: VP8 keyframe after %s", i+1, took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("PLI %d: keyframe after %s; want it within a few frames", i+1, took)
		}
		time.Sleep(600 * time.Millisecond)
	}
}
