package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// ---------------------------------------------------------------------------
// D. Project rules

// C44 (with a WHIP publisher standing in for a camera): a WHEP offer that
// lacks the stream's video codec → 422 naming it; no partial answer.
func TestC44_WHEPOfferLacksStreamCodec(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/c44", 25) // VP8 + Opus
	pc := cfPC(t, cfAPI(t, cfOpus, cfH264))
	addRecvonly(t, pc)
	offer := offerFor(t, pc)
	if strings.Contains(offer, "VP8") {
		t.Fatal("test offer has VP8")
	}
	before := ts.sessions.Stats()
	resp, body := cfPost(t, ts.URL+"/whep/live/c44", offer)
	cfProblem(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(cfDetail(body), "VP8") {
		t.Errorf("detail does not name the stream's codec VP8: %q", cfDetail(body))
	}
	cfNoNewSession(t, ts, before)
}

// C46: server-side termination. The publisher is deleted; after the orphan
// timeout the viewer's session is closed by the server, and the viewer's
// peer connection fails (consent revoked); the session leaves the counts.
func TestC46_ServerEndsViewerAfterPublisherLeaves(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Stream.OrphanTimeout = 300 * time.Millisecond })
	pub := cfPublish(t, ts, nil, "live/c46")
	p, video := cfView(t, ts, cfAPI(t), "live/c46")
	next(t, video, 10*time.Second)
	resp, body := cfDo(t, http.MethodDelete, cfURL(t, ts, pub.location), nil)
	cfStatus(t, resp, body, http.StatusOK)
	eventually(t, 15*time.Second, "the viewer's connection to close or fail", func() bool {
		s := p.pc.ConnectionState()
		return s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed
	})
	t.Logf("viewer connection %s", p.pc.ConnectionState())
	eventually(t, 5*time.Second, "the viewer session to leave the counts", func() bool {
		st := ts.sessions.Stats()
		return st.Active == 0 && st.ClosedByServer >= 1
	})
	resp, body = cfDo(t, http.MethodDelete, cfURL(t, ts, p.location), nil)
	cfProblem(t, resp, body, http.StatusNotFound)
}

// C47: with ICE-lite the answer carries a=ice-lite, and a full-ICE client
// connects.
func TestC47_ICELiteAnswer(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.WebRTC.Lite = true })
	pc, offer := cfOffer(t, nil, cfSendonly)
	_, answer := cfCreate(t, ts, ts.URL+"/whip/live/c47", offer)
	sess, _ := cfSections(answer)
	if !slices.Contains(sess, "a=ice-lite") {
		t.Errorf("answer lacks session-level a=ice-lite:\n%s", answer)
	}
	cfApply(t, pc, answer)
	cfConnected(t, pc)
}
