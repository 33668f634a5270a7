//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pageState mirrors wish.js's exported state.
type pageState struct {
	Role               string `json:"role"`
	Phase              string `json:"phase"`
	Status             int    `json:"status"`
	Location           string `json:"location"`
	ETag               string `json:"etag"`
	ContentType        string `json:"contentType"`
	Error              string `json:"error"`
	DeleteStatus       int    `json:"deleteStatus"`
	ConnectionState    string `json:"connectionState"`
	ICEConnectionState string `json:"iceConnectionState"`
	Tracks             int    `json:"tracks"`
}

func (s pageState) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rtpStats is one inbound-rtp or outbound-rtp entry of wish.stats().
type rtpStats struct {
	Packets        int64  `json:"packets"`
	Bytes          int64  `json:"bytes"`
	FramesDecoded  int64  `json:"framesDecoded"`
	FramesEncoded  int64  `json:"framesEncoded"`
	FrameWidth     int    `json:"frameWidth"`
	FrameHeight    int    `json:"frameHeight"`
	Codec          string `json:"codec"`
	Fmtp           string `json:"fmtp"`
	Implementation string `json:"implementation"`
}

// pageStats mirrors wish.stats().
type pageStats struct {
	ConnectionState    string              `json:"connectionState"`
	ICEConnectionState string              `json:"iceConnectionState"`
	Inbound            map[string]rtpStats `json:"inbound"`
	Outbound           map[string]rtpStats `json:"outbound"`
	VideoWidth         int                 `json:"videoWidth"`
	VideoHeight        int                 `json:"videoHeight"`
}

func (s pageStats) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// codecCaps mirrors wish.capabilities(kind).
type codecCaps struct {
	Sender   []codecCap `json:"sender"`
	Receiver []codecCap `json:"receiver"`
}

type codecCap struct {
	MimeType    string `json:"mimeType"`
	ClockRate   int    `json:"clockRate"`
	SDPFmtpLine string `json:"sdpFmtpLine"`
}

func (c codecCap) String() string { return c.MimeType + " " + c.SDPFmtpLine }

// start runs wish.<fn>(...args) in the tab without waiting for it; the
// test then polls wish.state.
func (tb *tab) start(fn string, args ...any) {
	tb.h.t.Helper()
	js := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			tb.h.t.Fatal(err)
		}
		js[i] = string(b)
	}
	mustEvaluate[struct{}](tb, fmt.Sprintf("void wish.%s(%s)", fn, strings.Join(js, ", ")))
}

func (tb *tab) state() (pageState, error) {
	return evaluate[pageState](tb, `wish.state`)
}

func (tb *tab) stats() (pageStats, error) {
	return evaluate[pageStats](tb, `wish.stats()`)
}

// waitAnswered waits until the tab's WHIP or WHEP POST has been answered and
// the answer applied, and checks the answer's status and headers.
func (tb *tab) waitAnswered(endpoint string) pageState {
	tb.h.t.Helper()
	var st pageState
	tb.waitFor("the "+endpoint+" POST to be answered and applied", mediaTimeout, func() (bool, string, error) {
		var err error
		st, err = tb.state()
		if err != nil {
			return false, "", err
		}
		if st.Phase == "failed" {
			tb.h.fatalf("%s: the %s exchange failed: %s\n    state: %s", tb.name, endpoint, st.Error, st)
		}
		return st.Phase == "answered", st.String(), nil
	})
	if st.Status != http.StatusCreated {
		tb.h.fatalf("%s: POST %s answered %d, want 201; state: %s", tb.name, endpoint, st.Status, st)
	}
	if !strings.HasPrefix(st.ContentType, "application/sdp") {
		tb.h.fatalf("%s: POST %s answered Content-Type %q, want application/sdp", tb.name, endpoint, st.ContentType)
	}
	if !strings.HasPrefix(st.Location, "/sessions/") || len(st.Location) == len("/sessions/") {
		tb.h.fatalf("%s: POST %s answered Location %q, want /sessions/{id} (readable through CORS)", tb.name, endpoint, st.Location)
	}
	if st.ETag == "" {
		tb.h.fatalf("%s: POST %s answered no ETag readable through CORS", tb.name, endpoint)
	}
	return st
}

// waitVideoDecoded waits until the viewer decodes video (framesDecoded > 0)
// into a <video> that has a size, and returns the stats then.
func (tb *tab) waitVideoDecoded() pageStats {
	tb.h.t.Helper()
	var st pageStats
	tb.waitFor("decoded video frames and a sized <video>", mediaTimeout, func() (bool, string, error) {
		var err error
		st, err = tb.stats()
		if err != nil {
			return false, "", err
		}
		v := st.Inbound["video"]
		return v.FramesDecoded > 0 && st.VideoWidth > 0 && st.VideoHeight > 0, st.String(), nil
	})
	return st
}

// waitAudioReceived waits until the viewer receives audio RTP.
func (tb *tab) waitAudioReceived() pageStats {
	tb.h.t.Helper()
	var st pageStats
	tb.waitFor("received audio packets", mediaTimeout, func() (bool, string, error) {
		var err error
		st, err = tb.stats()
		if err != nil {
			return false, "", err
		}
		return st.Inbound["audio"].Packets > 0, st.String(), nil
	})
	return st
}

// publishAndView publishes stream from the tab pub (a new one if nil) and
// views it from a new tab, waiting until the viewer decodes video and
// receives audio.
func publishAndView(h *harness, pub *tab, stream string, publishOpts map[string]any) (_, viewer *tab, vs pageStats) {
	h.t.Helper()
	if pub == nil {
		pub = h.openTab("publisher")
	}
	viewer = h.openTab("viewer")

	pub.start("publish", h.srv.URL, stream, publishOpts)
	ps := pub.waitAnswered("/whip/" + stream)
	h.t.Logf("WHIP: %d, Location %s, ETag %s", ps.Status, ps.Location, ps.ETag)
	pub.waitFor("the publisher to connect", mediaTimeout, func() (bool, string, error) {
		st, err := pub.stats()
		if err != nil {
			return false, "", err
		}
		if st.ConnectionState == "failed" || st.ConnectionState == "closed" {
			h.fatalf("publisher: connectionState %s", st.ConnectionState)
		}
		return st.ConnectionState == "connected" && st.Outbound["video"].Packets > 0, st.String(), nil
	})

	viewer.start("view", h.srv.URL, stream)
	vst := viewer.waitAnswered("/whep/" + stream)
	h.t.Logf("WHEP: %d, Location %s, ETag %s", vst.Status, vst.Location, vst.ETag)
	vs = viewer.waitVideoDecoded()
	vs = viewer.waitAudioReceived()
	h.t.Logf("viewer: %dx%d <video>, video %+v, audio %+v", vs.VideoWidth, vs.VideoHeight, vs.Inbound["video"], vs.Inbound["audio"])
	return pub, viewer, vs
}

// leaveAndCheckGone has the viewer DELETE its session from the page and
// checks from Go that the session is gone: a second DELETE answers 404.
func leaveAndCheckGone(h *harness, viewer *tab) {
	h.t.Helper()
	st := mustEvaluate[pageState](viewer, `wish.leave().then(() => wish.state)`)
	if st.DeleteStatus < 200 || st.DeleteStatus > 299 {
		h.fatalf("viewer: DELETE %s from the page answered %d, want 2xx; state: %s", st.Location, st.DeleteStatus, st)
	}
	if code := h.srv.do(h.t, http.MethodDelete, st.Location); code != http.StatusNotFound {
		h.fatalf("second DELETE %s answered %d, want 404 (the session should be gone after the first)", st.Location, code)
	}
}

func TestBrowserPublishAndView(t *testing.T) {
	h := newHarness(t)
	_, viewer, vs := publishAndView(h, nil, "live/e2e", nil)
	if v := vs.Inbound["video"]; v.Codec == "" {
		t.Errorf("viewer: inbound video has no codec in getStats: %+v", v)
	}
	viewer.screenshot(t.Name() + "-viewer.png")
	leaveAndCheckGone(h, viewer)
}

func TestBrowserViewH264(t *testing.T) {
	h := newHarness(t)

	// Skip only when this browser cannot send H.264 at all.
	pub := h.openTab("publisher")
	caps := mustEvaluate[codecCaps](pub, `wish.capabilities('video')`)
	var h264 []string
	for _, c := range caps.Sender {
		if strings.EqualFold(c.MimeType, "video/H264") && strings.Contains(c.SDPFmtpLine, "packetization-mode=1") {
			h264 = append(h264, c.String())
		}
	}
	if len(h264) == 0 {
		skipNoted(t, "this Chromium cannot send H.264: RTCRtpSender.getCapabilities('video') has no video/H264 with packetization-mode=1; it has %v", caps.Sender)
	}
	t.Logf("sender H.264 codecs: %v", h264)

	_, viewer, vs := publishAndView(h, pub, "live/e2e-h264", map[string]any{"videoCodec": "H264"})
	ps, err := pub.stats()
	if err != nil {
		h.fatalf("publisher stats: %v", err)
	}
	if out := ps.Outbound["video"]; !strings.EqualFold(out.Codec, "video/H264") {
		h.fatalf("publisher sends video as %q, want video/H264 (setCodecPreferences did not take); stats: %s", out.Codec, ps)
	}
	in := vs.Inbound["video"]
	if !strings.Contains(strings.ToUpper(in.Codec), "H264") {
		h.fatalf("viewer decodes video as %q (fmtp %q), want H264; stats: %s", in.Codec, in.Fmtp, vs)
	}
	t.Logf("viewer decodes %s (%s): %d frames, %dx%d", in.Codec, in.Fmtp, in.FramesDecoded, in.FrameWidth, in.FrameHeight)
	viewer.screenshot(t.Name() + "-viewer.png")
	leaveAndCheckGone(h, viewer)
}

// The built-in demo camera plays in the browser: RTSP pulled on demand,
// H.264 repacketized for WebRTC, decoded by Chromium.
func TestBrowserViewDemoCamera(t *testing.T) {
	h := newHarness(t)
	viewer := h.openTab("viewer")
	start := time.Now()
	viewer.start("view", h.srv.URL, "devices/demo")
	viewer.waitAnswered("/whep/devices/demo")
	vs := viewer.waitVideoDecoded()
	t.Logf("cold camera: first decoded frame %s after the WHEP POST", time.Since(start).Round(time.Millisecond))
	in := vs.Inbound["video"]
	if !strings.Contains(strings.ToUpper(in.Codec), "H264") {
		h.fatalf("demo camera decodes as %q, want H264; stats: %s", in.Codec, vs)
	}
	vs = viewer.waitAudioReceived()
	viewer.screenshot(t.Name() + "-viewer.png")

	// A second viewer joins the live camera: the keyframe cache serves it.
	second := h.openTab("viewer2")
	start = time.Now()
	second.start("view", h.srv.URL, "devices/demo")
	second.waitAnswered("/whep/devices/demo")
	second.waitVideoDecoded()
	t.Logf("live camera: first decoded frame %s after the WHEP POST", time.Since(start).Round(time.Millisecond))
	leaveAndCheckGone(h, second)
	leaveAndCheckGone(h, viewer)
}
