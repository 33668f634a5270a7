package main

import (
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"github.com/wishcast/wishcast/stream"
)

// The demo clip: H.264 constrained baseline, an IDR every 50 frames (2 s)
// with SPS and PPS in-band, an AUD before every access unit.
const demoClipPath = "../../rtsp/democam/clip/clip.h264"

// spropFPS is the frame rate the test cameras pace their clips at.
const spropFPS = 25

// A camera that sends H.264 parameter sets only in the SDP's
// sprop-parameter-sets plays over WHEP with SPS and PPS in-band before
// every IDR (the first one the viewer gets and every later one), and the
// stream's fmtp names the profile and level of that SPS.
func TestSpropOnlyH264CameraOverWHEP(t *testing.T) {
	data, err := os.ReadFile(demoClipPath)
	if err != nil {
		t.Fatal(err)
	}
	aus, params := annexBUnits(t, data, h264NALType, func(typ byte) bool { return typ == 9 }, []byte{7, 8, 9})
	sps, pps := params[7], params[8]
	if sps == nil || pps == nil {
		t.Fatal("the demo clip has no SPS or PPS")
	}
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	cam := startSpropCamera(t, &format.H264{PayloadTyp: 96, SPS: sps, PPS: pps, PacketizationMode: 1}, aus, enc.Encode)
	ts := newTestServer(t, func(c *Config) { c.Camera.Devices = []string{"sprop=" + cam.url + "#tcp"} })

	v := startViewer(t, ts, "devices/sprop")
	// The camera never sends its SPS in-band: the profile and level the
	// server announces can only come from sprop-parameter-sets.
	profile := hex.EncodeToString(sps[1:4])
	if f := liveVideoFmtp(t, ts, "devices/sprop"); !strings.Contains(f, "profile-level-id="+profile) {
		t.Errorf("stream's H.264 fmtp is %q, want profile-level-id=%s from the camera's SPS", f, profile)
	}
	// The answer names the offered payload types that can carry the
	// stream (see session.sameCodec), with the offer's own fmtp lines.
	fmtps := answerFmtps(t, v.answer, "H264")
	if len(fmtps) == 0 {
		t.Fatalf("the answer has no H.264:\n%s", v.answer)
	}
	for pt, f := range fmtps {
		if !strings.Contains(f, "packetization-mode=1") {
			t.Errorf("answer's H.264 payload type %d has fmtp %q, want packetization-mode=1", pt, f)
		}
	}
	checkParamsBeforeKeyframes(t, v.video, spropH264)
}

// liveVideoFmtp is the fmtp line of the video track of the live stream
// name.
func liveVideoFmtp(t *testing.T, ts *testServer, name string) string {
	t.Helper()
	for _, st := range ts.hub.Live(name) {
		if st.Name != name {
			continue
		}
		for _, tr := range st.Tracks {
			if tr.Kind == stream.Video {
				return tr.Codec.Fmtp
			}
		}
	}
	t.Fatalf("%s has no live video track", name)
	return ""
}

// spropH264 reads H.264 RTP payloads (RFC 6184) for
// checkParamsBeforeKeyframes.
var spropH264 = spropCodec{
	name:   "H.264",
	types:  h264Types,
	params: []byte{7, 8}, // SPS, PPS
	key:    func(typ byte) bool { return typ == 5 },
}

// h264NALType is the nal_unit_type of an H.264 NAL unit.
func h264NALType(n []byte) byte { return n[0] & 0x1f }

// spropCodec tells checkParamsBeforeKeyframes how to read one codec's RTP
// payloads.
type spropCodec struct {
	name string
	// types lists the NAL unit types a payload starts: every unit of an
	// aggregation packet, the first fragment of a fragmented one.
	types func(payload []byte) []byte
	// params are the parameter set types that must come before every
	// keyframe, key reports a keyframe slice type.
	params []byte
	key    func(typ byte) bool
}

// checkParamsBeforeKeyframes reads the viewer's video until two keyframes
// have come (the clips have a keyframe every few seconds) and checks that
// each keyframe slice follows all the parameter sets of c in its access
// unit, and that the viewer's very first packets are those of the first
// keyframe, starting with its first parameter set.
func checkParamsBeforeKeyframes(t *testing.T, video chan *rtp.Packet, c spropCodec) {
	t.Helper()
	var (
		prev   *rtp.Packet
		before []byte // NAL types of the access unit so far
		keyed  bool   // the access unit has had its keyframe slice
		keys   int
	)
	within := 15 * time.Second // for the first packet: the camera is dialled on demand
	deadline := time.Now().Add(within + 10*time.Second)
	for keys < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d %s keyframes within the deadline", keys, c.name)
		}
		p := next(t, video, within)
		within = 5 * time.Second
		switch {
		case prev != nil && p.Timestamp == prev.Timestamp && p.SequenceNumber != prev.SequenceNumber+1:
			t.Fatalf("%s packets %d and %d of one access unit are not consecutive: one was lost or reordered", c.name, prev.SequenceNumber, p.SequenceNumber)
		case prev != nil && p.Timestamp != prev.Timestamp:
			if keys == 0 {
				t.Fatalf("the first %s access unit (NAL types %v) has no keyframe", c.name, before)
			}
			before, keyed = nil, false
		}
		prev = p
		for _, typ := range c.types(p.Payload) {
			if !c.key(typ) || keyed {
				before = append(before, typ)
				continue
			}
			if !hasAll(before, c.params) || (keys == 0 && before[0] != c.params[0]) {
				t.Fatalf("%s keyframe %d (timestamp %d) comes after NAL types %v, want the parameter sets %v first", c.name, keys+1, p.Timestamp, before, c.params)
			}
			t.Logf("%s keyframe %d (timestamp %d, payload type %d) after NAL types %v", c.name, keys+1, p.Timestamp, p.PayloadType, before)
			keyed = true
			keys++
		}
	}
}

// hasAll reports whether types holds every one of want.
func hasAll(types, want []byte) bool {
	for _, w := range want {
		if !strings.ContainsRune(string(types), rune(w)) {
			return false
		}
	}
	return true
}

// answerFmtps returns the fmtp line of each payload type of codec (such as
// "H264") in the video section of an SDP answer.
func answerFmtps(t *testing.T, answer, codec string) map[uint8]string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil {
		t.Fatalf("answer: %v", err)
	}
	out := map[uint8]string{}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "video" {
			continue
		}
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 8)
			if err != nil {
				continue
			}
			c, err := sd.GetCodecForPayloadType(uint8(pt))
			if err == nil && strings.EqualFold(c.Name, codec) {
				out[uint8(pt)] = c.Fmtp
			}
		}
	}
	return out
}

// annexBUnits splits an Annex B stream into access units, each started by
// an access unit delimiter (isAUD), without the NAL unit types of drop; it
// returns them and the first NAL unit of each dropped type.
func annexBUnits(t *testing.T, data []byte, typeOf func([]byte) byte, isAUD func(byte) bool, drop []byte) ([][][]byte, map[byte][]byte) {
	t.Helper()
	var nalus h264.AnnexB // the H.265 byte stream format is the same
	if err := nalus.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	var cur [][]byte
	params := map[byte][]byte{}
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		typ := typeOf(n)
		if isAUD(typ) && len(cur) > 0 {
			aus = append(aus, cur)
			cur = nil
		}
		if strings.ContainsRune(string(drop), rune(typ)) {
			if params[typ] == nil {
				params[typ] = n
			}
			continue
		}
		cur = append(cur, n)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	if len(aus) == 0 {
		t.Fatal("no access units in the clip")
	}
	return aus, params
}

// spropCamera is an RTSP camera in the test process, as some IP cameras
// are: it announces its parameter sets only in the SDP and sends access
// units without them, in a loop at spropFPS, whether or not anyone plays.
type spropCamera struct {
	url string
}

// spropHandler serves the camera's one stream on every path.
type spropHandler struct {
	stream atomic.Pointer[gortsplib.ServerStream]
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *spropHandler) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.ok()
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (h *spropHandler) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.ok()
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (h *spropHandler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *spropHandler) ok() (*base.Response, *gortsplib.ServerStream, error) {
	st := h.stream.Load()
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

// startSpropCamera serves one video media of format f on a free loopback
// port and loops aus through encode into it, one access unit per frame.
func startSpropCamera(t *testing.T, f format.Format, aus [][][]byte, encode func([][]byte) ([]*rtp.Packet, error)) *spropCamera {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &spropHandler{}
	srv := &gortsplib.Server{
		Handler:     h,
		RTSPAddress: ln.Addr().String(),
		Listen:      func(string, string) (net.Listener, error) { return ln, nil },
	}
	if err := srv.Start(); err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}
	st := &gortsplib.ServerStream{Server: srv, Desc: &description.Session{Medias: []*description.Media{media}}}
	if err := st.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	h.stream.Store(st)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / spropFPS)
		defer tick.Stop()
		for n := 0; ; n++ {
			pkts, err := encode(aus[n%len(aus)])
			if err != nil {
				t.Errorf("encode access unit %d: %v", n%len(aus), err)
				return
			}
			for _, p := range pkts {
				p.Timestamp = uint32(n * 90000 / spropFPS)
				_ = st.WritePacketRTP(media, p) // fails only once closed
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() }) // before the stream closes
	return &spropCamera{url: "rtsp://" + ln.Addr().String() + "/cam"}
}

// Interface guards.
var (
	_ gortsplib.ServerHandlerOnDescribe = (*spropHandler)(nil)
	_ gortsplib.ServerHandlerOnSetup    = (*spropHandler)(nil)
	_ gortsplib.ServerHandlerOnPlay     = (*spropHandler)(nil)
)
