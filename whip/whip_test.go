package whip_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// problem is the part of a problem+json body the tests read.
type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// readProblem decodes a problem+json error body.
func readProblem(t *testing.T, resp *http.Response, body string) problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error Content-Type %q, want application/problem+json; body %s", ct, body)
	}
	var p problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem body: %v\n%s", err, body)
	}
	return p
}

// sendonlyPC returns a peer connection of api offering one sendonly track
// per codec given.
func sendonlyPC(t *testing.T, api *webrtc.API, codecs ...webrtc.RTPCodecCapability) *webrtc.PeerConnection {
	t.Helper()
	pc := newPC(t, api)
	for _, c := range codecs {
		kind := strings.SplitN(c.MimeType, "/", 2)[0]
		tr, err := webrtc.NewTrackLocalStaticRTP(c, kind, "pub")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return pc
}

var (
	vp8  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	opus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	g722 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}
)

// A second publisher of a live stream is refused with 409 and told when
// to try again; the first keeps the stream.
func TestSecondPublisherConflicts(t *testing.T) {
	e := newEnv(t, stream.Config{})
	first := startPublisher(t, e, "live/dup")

	resp, body := postOffer(t, e, sendonlyPC(t, clientAPI(t, nil), vp8), "live/dup")
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("second publisher: %d %s, want 409", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After %q, want 5", ra)
	}
	if p := readProblem(t, resp, body); !strings.Contains(p.Detail, `"live/dup" already has a publisher`) {
		t.Errorf("detail %q does not say the stream already has a publisher", p.Detail)
	}
	if !e.hub.IsLive("live/dup") {
		t.Fatal("the first publisher lost the stream")
	}
	// The first publisher's session is untouched.
	if resp, body := do(t, http.MethodGet, e.url+first.location, "", ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("first publisher's session: %d %s", resp.StatusCode, body)
	}
}

// An offer with a section whose codecs wishcast does not forward is
// refused with 422 naming what was offered and what would be taken, and
// nothing is published, not even the sections that would fit.
func TestUnforwardableCodec(t *testing.T) {
	g722Only := func(m *webrtc.MediaEngine) error {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: vp8, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}
		return m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: g722, PayloadType: 9}, webrtc.RTPCodecTypeAudio)
	}
	api := clientAPI(t, g722Only)
	for _, tc := range []struct {
		name   string
		codecs []webrtc.RTPCodecCapability
	}{
		{"audio only", []webrtc.RTPCodecCapability{g722}},
		{"with forwardable video", []webrtc.RTPCodecCapability{vp8, g722}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, stream.Config{})
			resp, body := postOffer(t, e, sendonlyPC(t, api, tc.codecs...), "live/g722")
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("G.722 offer: %d %s, want 422", resp.StatusCode, body)
			}
			p := readProblem(t, resp, body)
			for _, want := range []string{"audio section offers G722", "wishcast forwards opus, PCMU, PCMA"} {
				if !strings.Contains(p.Detail, want) {
					t.Errorf("detail %q lacks %q", p.Detail, want)
				}
			}
			if e.hub.IsLive("live/g722") {
				t.Error("a refused offer left the stream live")
			}
		})
	}
}

// The answer receives only (RFC 9725 §4.2), insists on RTCP multiplexing
// (§4.4.1), and names in each section the one codec the stream is
// published with.
func TestAnswerIsRecvonlyWithRTCPMuxOnly(t *testing.T) {
	e := newEnv(t, stream.Config{})
	resp, body := postOffer(t, e, sendonlyPC(t, clientAPI(t, nil), opus, vp8), "live/answer")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
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
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		for _, dir := range []string{"sendrecv", "sendonly", "inactive"} {
			if _, ok := md.Attribute(dir); ok {
				t.Errorf("%s section is %s, want recvonly", kind, dir)
			}
		}
		for _, a := range []string{"recvonly", "rtcp-mux", "rtcp-mux-only"} {
			if _, ok := md.Attribute(a); !ok {
				t.Errorf("%s section lacks a=%s", kind, a)
			}
		}
		var names []string
		for _, a := range md.Attributes {
			if a.Key == "rtpmap" {
				_, enc, _ := strings.Cut(a.Value, " ")
				names = append(names, strings.SplitN(enc, "/", 2)[0])
			}
		}
		if len(names) != 1 || names[0] != want[kind] {
			t.Errorf("%s section names codecs %v, want only %s", kind, names, want[kind])
		}
	}
	live := e.hub.Live("live/answer")
	if len(live) != 1 || len(live[0].Tracks) != 2 ||
		live[0].Tracks[0].Codec.MimeType != webrtc.MimeTypeOpus || live[0].Tracks[1].Codec.MimeType != webrtc.MimeTypeVP8 {
		t.Errorf("published %+v, want one stream of opus and VP8", live)
	}
}

// DELETE of the publisher's session ends the publication at once: the
// stream is no longer live when the DELETE returns, and the name is free
// for the next publisher.
func TestDeleteEndsPublication(t *testing.T) {
	e := newEnv(t, stream.Config{})
	pub := startPublisher(t, e, "live/bye")
	if !e.hub.IsLive("live/bye") {
		t.Fatal("stream not live after a 201")
	}
	if resp, body := do(t, http.MethodDelete, e.url+pub.location, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE %s: %d %s", pub.location, resp.StatusCode, body)
	}
	if e.hub.IsLive("live/bye") {
		t.Fatal("stream still live after its publisher's session was deleted")
	}
	if resp, _ := do(t, http.MethodDelete, e.url+pub.location, "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", resp.StatusCode)
	}
	startPublisher(t, e, "live/bye")
	if !e.hub.IsLive("live/bye") {
		t.Fatal("a new publisher could not take the freed name")
	}
}
