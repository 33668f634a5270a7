package whep

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// srtpCipher is the SRTP profile pc's transport negotiated, "" if none yet.
func srtpCipher(pc *webrtc.PeerConnection) string {
	for _, st := range pc.GetStats() {
		if t, ok := st.(webrtc.TransportStats); ok && t.SRTPCipher != "" {
			return t.SRTPCipher
		}
	}
	return ""
}

// TestSRTPProfileChoice: where the server chooses the SRTP profile (it is
// the DTLS server: the viewer's offer says setup:active), it chooses
// AES-GCM-128 over the GCM-256 that the viewer lists first.
func TestSRTPProfileChoice(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	publish(t, e.hub, "cam")
	v := newTestViewer(t, webrtc.RTPTransceiverDirectionRecvonly)
	offer, err := v.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	sdp := strings.ReplaceAll(v.pc.LocalDescription().SDP, "a=setup:actpass", "a=setup:active")
	resp, body := post(t, e.url+"/whep/cam", sdp)
	v.answered(t, resp, body)
	if !strings.Contains(body, "a=setup:passive") {
		t.Fatalf("answer to setup:active is not passive:\n%s", body)
	}
	next(t, v.video, 10*time.Second, "video")
	if got := srtpCipher(v.pc); got != "SRTP_AEAD_AES_128_GCM" {
		t.Fatalf("SRTP profile %q, want SRTP_AEAD_AES_128_GCM", got)
	}
}
