package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// One publisher, three viewers: each gets the publisher's video and audio.
func TestPublishFanOutToThreeViewers(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/fan", 25)
	var vs []*viewer
	for range 3 {
		vs = append(vs, startViewer(t, ts, "live/fan"))
	}
	for i, v := range vs {
		if p := next(t, v.video, 10*time.Second); len(p.Payload) != 200 {
			t.Fatalf("viewer %d: video payload %d bytes, want 200", i, len(p.Payload))
		}
		next(t, v.audio, 10*time.Second)
	}
}

// A viewer that never reads its tracks does not slow the others.
func TestStuckViewerDoesNotStallOthers(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/stuck", 25)
	// The stuck viewer connects but never reads RTP.
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	connect(t, pc, ts.URL+"/whep/live/stuck")
	v := startViewer(t, ts, "live/stuck")
	// 50 frames at 20 ms: a second of video keeps arriving in order.
	var last uint16
	for i := range 50 {
		p := next(t, v.video, 5*time.Second)
		if i > 0 && p.SequenceNumber != last+1 {
			t.Fatalf("sequence jumped from %d to %d", last, p.SequenceNumber)
		}
		last = p.SequenceNumber
	}
}

// A viewer joining mid-GOP starts with the cached keyframe, and the
// publisher is not asked for a new one.
func TestJoinStartsFromCachedKeyframe(t *testing.T) {
	ts := newTestServer(t)
	pub := startPublisher(t, ts, "live/gop", 500) // a keyframe every 10 s
	first := startViewer(t, ts, "live/gop")
	for !isVP8Key(next(t, first.video, 10*time.Second)) {
	}
	for range 20 { // well into the GOP
		next(t, first.video, 5*time.Second)
	}
	plis := pub.plis.Load()
	late := startViewer(t, ts, "live/gop")
	p := next(t, late.video, 5*time.Second)
	if !isVP8Key(p) {
		t.Fatalf("late viewer's first packet is not the keyframe (payload % x)", p.Payload[:2])
	}
	// The frames after the keyframe follow without a gap.
	for range 10 {
		q := next(t, late.video, 5*time.Second)
		if q.SequenceNumber != p.SequenceNumber+1 {
			t.Fatalf("gap after cached keyframe: %d then %d", p.SequenceNumber, q.SequenceNumber)
		}
		p = q
	}
	if got := pub.plis.Load(); got != plis {
		t.Fatalf("publisher got %d new keyframe requests; the cache should have served the join", got-plis)
	}
}

// DELETE ends a publisher session: 200, then 404 for DELETE and PATCH, and
// the stream slot is free for a new publisher.
func TestDeleteEndsSession(t *testing.T) {
	ts := newTestServer(t)
	pub := startPublisher(t, ts, "live/del", 25)
	eventually(t, 10*time.Second, "publisher to connect", func() bool {
		return pub.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	resp, _ := do(t, http.MethodDelete, ts.URL+pub.location, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodDelete, ts.URL+pub.location, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second DELETE: %d, want 404", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodPatch, ts.URL+pub.location, "a=end-of-candidates\r\n",
		"Content-Type", "application/trickle-ice-sdpfrag", "If-Match", pub.etag)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("PATCH after DELETE: %d, want 404", resp.StatusCode)
	}
	eventually(t, 15*time.Second, "peer to see the close", func() bool {
		s := pub.pc.ConnectionState()
		return s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateDisconnected
	})
	if st := ts.sessions.Stats(); st.Active != 0 || st.Deleted != 1 {
		t.Fatalf("stats after DELETE: %+v", st)
	}
	startPublisher(t, ts, "live/del", 25) // no 409
}

// A second publisher on a live stream gets 409.
func TestSecondPublisherConflict(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/one", 25)
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, http.MethodPost, ts.URL+"/whip/live/one", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already has a publisher") {
		t.Fatalf("second publisher: %d %s", resp.StatusCode, body)
	}
}

// A session that never connects is reaped after the handshake timeout.
func TestPendingSessionReaped(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.WebRTC.HandshakeTimeout = 300 * time.Millisecond })
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	// Post the offer but never apply the answer: ICE never starts.
	resp, _ := do(t, http.MethodPost, ts.URL+"/whip/live/never", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if st := ts.sessions.Stats(); st.Pending != 1 {
		t.Fatalf("pending = %d, want 1", st.Pending)
	}
	eventually(t, 10*time.Second, "the session to be reaped", func() bool {
		st := ts.sessions.Stats()
		return st.Reaped == 1 && st.Pending == 0 && st.Active == 0
	})
	resp, _ = do(t, http.MethodDelete, ts.URL+resp.Header.Get("Location"), "")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of reaped session: %d, want 404", resp.StatusCode)
	}
}
