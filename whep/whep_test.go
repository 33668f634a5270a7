package whep

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// answered applies a 201 answer to v, failing the test on anything else.
func (v *testViewer) answered(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("view: %d %s", resp.StatusCode, body)
	}
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("set answer: %v\n%s", err, body)
	}
}

// cached waits until the video track of name holds a keyframe for
// joining viewers.
func cached(t *testing.T, hub *stream.Hub, name string) {
	t.Helper()
	lease, err := hub.Acquire(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	for _, tr := range lease.Tracks() {
		if tr.Kind() != stream.Video {
			continue
		}
		eventually(t, 5*time.Second, "a keyframe cached for "+name, func() bool { return tr.Stats().CachedPackets > 0 })
	}
}

// isVP8Key reports whether p starts a VP8 keyframe.
func isVP8Key(p *rtp.Packet) bool { return stream.KeyframeStart(webrtc.MimeTypeVP8, p.Payload) }

// A viewer offering sendrecv (as some players do) gets 201 and an answer
// that only sends (WHEP §4.3.5), listing in each section the stream's own
// codec and nothing the stream never sends (no RTX either: retransmissions
// go on the track's own SSRC); then the stream's
// audio and video arrive, video from a keyframe.
func TestViewSendrecvOffer(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	publish(t, e.hub, "live/cam")
	v := newTestViewer(t, webrtc.RTPTransceiverDirectionSendrecv)
	resp, body := v.view(t, e, "live/cam")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("view: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("answer Content-Type %q", ct)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/sessions/") {
		t.Errorf("Location %q", loc)
	}

	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(body); err != nil {
		t.Fatalf("answer: %v\n%s", err, body)
	}
	if len(sd.MediaDescriptions) != 2 {
		t.Fatalf("answer has %d media sections, want 2:\n%s", len(sd.MediaDescriptions), body)
	}
	want := map[string]string{"audio": "opus", "video": "VP8"}
	streams := map[string]bool{} // msid stream ids of the answer's tracks
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if msid, ok := md.Attribute("msid"); ok {
			streams[strings.Fields(msid)[0]] = true
		}
		if _, ok := md.Attribute("sendonly"); !ok {
			t.Errorf("%s section is not sendonly", kind)
		}
		for _, dir := range []string{"sendrecv", "recvonly", "inactive"} {
			if _, ok := md.Attribute(dir); ok {
				t.Errorf("%s section is %s, want sendonly", kind, dir)
			}
		}
		codecs := map[string]string{} // payload type -> encoding name
		apt := map[string]string{}    // RTX payload type -> what it repairs
		for _, a := range md.Attributes {
			pt, rest, _ := strings.Cut(a.Value, " ")
			switch a.Key {
			case "rtpmap":
				codecs[pt] = strings.SplitN(rest, "/", 2)[0]
			case "fmtp":
				if v, ok := strings.CutPrefix(rest, "apt="); ok {
					apt[pt] = v
				}
			}
		}
		main, rtx := 0, 0
		for pt, name := range codecs {
			switch {
			case name == want[kind]:
				main++
			case strings.EqualFold(name, "rtx") && codecs[apt[pt]] == want[kind]:
				rtx++
			default:
				t.Errorf("%s section lists %s (payload type %s); the stream sends only %s", kind, name, pt, want[kind])
			}
		}
		if main == 0 {
			t.Errorf("%s section does not list %s", kind, want[kind])
		}
		// The viewer offered RTX for VP8 (pion does), but the server sends
		// lost packets again on the track's own SSRC: an RTX payload type
		// or SSRC would announce a stream that never comes.
		if rtx != 0 {
			t.Errorf("%s section lists %d RTX for %s, want none", kind, rtx, want[kind])
		}
		if g, ok := md.Attribute("ssrc-group"); ok {
			t.Errorf("%s section has an SSRC group %q, want one SSRC", kind, g)
		}
		if len(md.MediaName.Formats) != len(codecs) {
			t.Errorf("%s m-line has formats %v for rtpmaps %v", kind, md.MediaName.Formats, codecs)
		}
	}
	// The player gets one MediaStream (WHEP §4.6.2), so audio and video
	// play together in one element.
	if len(streams) != 1 || streams["-"] {
		t.Errorf("answer's tracks are in MediaStreams %v, want one", streams)
	}

	v.answered(t, resp, body)
	if p := next(t, v.video, 10*time.Second, "video"); !isVP8Key(p) {
		t.Errorf("first video packet is not a keyframe (payload % x)", p.Payload[:min(4, len(p.Payload))])
	}
	next(t, v.audio, 5*time.Second, "audio")
}

// A viewer's keyframe request (PLI or FIR, from a player that lost
// pictures) reaches the publisher through the hub, and the keyframe it
// brings reaches the viewer.
func TestViewerKeyframeRequestReachesPublisher(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func(ssrc uint32) rtcp.Packet
	}{
		{"pli", func(ssrc uint32) rtcp.Packet { return &rtcp.PictureLossIndication{MediaSSRC: ssrc} }},
		{"fir", func(ssrc uint32) rtcp.Packet {
			return &rtcp.FullIntraRequest{MediaSSRC: ssrc, FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: 1}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, stream.Config{KeyframeRequestInterval: 300 * time.Millisecond})
			pub := publish(t, e.hub, "live/pli")
			cached(t, e.hub, "live/pli")
			v := newTestViewer(t, webrtc.RTPTransceiverDirectionRecvonly)
			resp, body := v.view(t, e, "live/pli")
			v.answered(t, resp, body)
			if p := next(t, v.video, 10*time.Second, "video"); !isVP8Key(p) {
				t.Fatal("first video packet is not the cached keyframe")
			}
			if n := pub.requests.Load(); n != 0 {
				t.Fatalf("a join served from the cache asked the publisher %d times", n)
			}

			if err := v.pc.WriteRTCP([]rtcp.Packet{tc.req(v.videoSSRC.Load())}); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(5 * time.Second)
			for {
				select {
				case p := <-v.video:
					if !isVP8Key(p) {
						continue
					}
					if n := pub.requests.Load(); n != 1 {
						t.Errorf("publisher was asked %d times, want 1", n)
					}
					return
				case <-deadline:
					t.Fatalf("no keyframe within 5s of the viewer's %s; publisher asked %d times", tc.name, pub.requests.Load())
				}
			}
		})
	}
}

// Each of a viewer's tracks gets RTCP sender reports (a player needs them
// to keep audio and video in sync), and when the publisher leaves an RTCP
// BYE (RFC 3550 §6.6), which players take as the end of the stream.
func TestViewerGetsReportsAndBye(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	pub := publish(t, e.hub, "live/bye")
	cached(t, e.hub, "live/bye")
	v := newTestViewer(t, webrtc.RTPTransceiverDirectionRecvonly)
	resp, body := v.view(t, e, "live/bye")
	v.answered(t, resp, body)
	next(t, v.video, 10*time.Second, "video")
	next(t, v.audio, 10*time.Second, "audio")

	byes, srs := make(chan uint32, 16), make(chan uint32, 64)
	for _, r := range v.pc.GetReceivers() {
		go func() {
			for {
				pkts, _, err := r.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p := p.(type) {
					case *rtcp.Goodbye:
						for _, s := range p.Sources {
							byes <- s
						}
					case *rtcp.SenderReport:
						if p.PacketCount > 0 && p.NTPTime != 0 {
							select {
							case srs <- p.SSRC:
							default:
							}
						}
					}
				}
			}
		}()
	}
	// each waits until every track's SSRC came through got.
	each := func(got <-chan uint32, what string) {
		t.Helper()
		want := map[uint32]bool{}
		for _, r := range v.pc.GetReceivers() {
			if tr := r.Track(); tr != nil {
				want[uint32(tr.SSRC())] = true
			}
		}
		if len(want) != 2 {
			t.Fatalf("viewer receives %d tracks, want 2", len(want))
		}
		deadline := time.After(5 * time.Second)
		for len(want) > 0 {
			select {
			case s := <-got:
				delete(want, s)
			case <-deadline:
				t.Fatalf("no %s within 5 s for SSRCs %v", what, want)
			}
		}
	}
	each(srs, "sender report")
	pub.leave()
	each(byes, "RTCP BYE after the publisher left")
}

// Over HTTP, a stream nobody publishes is a 409 the player retries after
// Retry-After, and a name that cannot exist is a 400.
func TestViewNotLive(t *testing.T) {
	e := newTestEnv(t, stream.Config{})
	for _, tc := range []struct {
		name   string
		status int
		retry  string
	}{
		{"live/nobody", http.StatusConflict, "5"},
		{"live/.hidden", http.StatusBadRequest, ""},
	} {
		v := newTestViewer(t, webrtc.RTPTransceiverDirectionRecvonly)
		resp, body := v.view(t, e, tc.name)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
		if ra := resp.Header.Get("Retry-After"); ra != tc.retry {
			t.Errorf("%s: Retry-After %q, want %q", tc.name, ra, tc.retry)
		}
		if e.hub.Viewers(tc.name) != 0 {
			t.Errorf("%s: a refused viewer left demand behind", tc.name)
		}
	}
}
