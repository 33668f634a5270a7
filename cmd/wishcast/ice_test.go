package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// sdpLines returns the lines of an SDP with a prefix.
func sdpLines(sdp, prefix string) []string {
	var out []string
	for l := range strings.SplitSeq(sdp, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// Trickle: a viewer that offers no candidates sends them in PATCH requests
// (204, no ETag) and gets media.
func TestTrickleThenMedia(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/trickle", 25)
	pc, v := newViewerPC(t)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	cands := make(chan string, 16)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			cands <- c.ToJSON().Candidate
		} else {
			close(cands)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	resp, answer := do(t, http.MethodPost, ts.URL+"/whep/live/trickle", offer.SDP, "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, answer)
	}
	loc, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	ufrag := strings.TrimPrefix(sdpLines(offer.SDP, "a=ice-ufrag:")[0], "a=ice-ufrag:")
	pwd := strings.TrimPrefix(sdpLines(offer.SDP, "a=ice-pwd:")[0], "a=ice-pwd:")
	mid := strings.TrimPrefix(sdpLines(offer.SDP, "a=mid:")[0], "a=mid:")
	sent := 0
	for c := range cands {
		frag := "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:" + mid + "\r\na=" + c + "\r\n"
		resp, body := do(t, http.MethodPatch, ts.URL+loc, frag, "Content-Type", "application/trickle-ice-sdpfrag", "If-Match", etag)
		if resp.StatusCode != http.StatusNoContent || body != "" || resp.Header.Get("ETag") != "" {
			t.Fatalf("trickle PATCH: %d etag=%q body=%q", resp.StatusCode, resp.Header.Get("ETag"), body)
		}
		sent++
	}
	if sent == 0 {
		t.Fatal("no local candidate was trickled")
	}
	next(t, v.video, 10*time.Second)
}

// ICE restart: PATCH with If-Match: * and new credentials gets 200, a new
// ETag and the server's new credentials; media flows again afterwards, and
// the old ETag is stale.
func TestICERestartThenMedia(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/restart", 25)
	v := startViewer(t, ts, "live/restart")
	next(t, v.video, 10*time.Second)

	offer, err := v.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	local := v.pc.LocalDescription().SDP
	frag := strings.Join(sdpLines(local, "a=ice-ufrag:")[:1], "") + "\r\n" +
		strings.Join(sdpLines(local, "a=ice-pwd:")[:1], "") + "\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" + sdpLines(local, "a=mid:")[0] + "\r\n"
	for _, c := range sdpLines(local, "a=candidate:") {
		frag += c + "\r\n"
	}
	frag += "a=end-of-candidates\r\n"
	resp, body := do(t, http.MethodPatch, ts.URL+v.location, frag, "Content-Type", "application/trickle-ice-sdpfrag", "If-Match", "*")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("restart PATCH: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/trickle-ice-sdpfrag" {
		t.Fatalf("restart Content-Type %q", ct)
	}
	newTag := resp.Header.Get("ETag")
	if newTag == "" || newTag == v.etag || !strings.HasPrefix(newTag, `"`) {
		t.Fatalf("restart ETag %q (old %q)", newTag, v.etag)
	}
	newUfrag := sdpLines(body, "a=ice-ufrag:")
	if len(newUfrag) != 1 || newUfrag[0] == sdpLines(v.answer, "a=ice-ufrag:")[0] {
		t.Fatalf("restart fragment lacks new credentials:\n%s", body)
	}
	if len(sdpLines(body, "a=candidate:")) == 0 {
		t.Fatalf("restart fragment lacks candidates:\n%s", body)
	}
	// Apply the server's new ICE parameters as the new answer.
	ans := withNewCredentials(v.pc.CurrentRemoteDescription().SDP,
		strings.TrimPrefix(newUfrag[0], "a=ice-ufrag:"),
		strings.TrimPrefix(sdpLines(body, "a=ice-pwd:")[0], "a=ice-pwd:"))
	var withCands strings.Builder
	for l := range strings.SplitSeq(ans, "\r\n") {
		if l == "" {
			continue
		}
		withCands.WriteString(l + "\r\n")
		if strings.HasPrefix(l, "a=mid:") {
			for _, c := range sdpLines(body, "a=candidate:") {
				withCands.WriteString(c + "\r\n")
			}
		}
	}
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: withCands.String()}); err != nil {
		t.Fatalf("apply restart answer: %v", err)
	}
	// Drain what arrived before, then expect fresh media.
	for len(v.video) > 0 {
		<-v.video
	}
	next(t, v.video, 10*time.Second)
	resp, _ = do(t, http.MethodPatch, ts.URL+v.location, "a=end-of-candidates\r\n", "Content-Type", "application/trickle-ice-sdpfrag", "If-Match", v.etag)
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("PATCH with the old ETag: %d, want 412", resp.StatusCode)
	}
}

// withNewCredentials replaces the ICE credentials of an SDP and drops its
// candidates.
func withNewCredentials(sdp, ufrag, pwd string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(sdp, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case l == "", strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
			continue
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			l = "a=ice-ufrag:" + ufrag
		case strings.HasPrefix(l, "a=ice-pwd:"):
			l = "a=ice-pwd:" + pwd
		}
		b.WriteString(l + "\r\n")
	}
	return b.String()
}
