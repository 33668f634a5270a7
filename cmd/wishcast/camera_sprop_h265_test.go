package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// H.265 NAL unit types (H.265 Table 7-1, RFC 7798 section 4.4).
const (
	h265TypeVPS = 32
	h265TypeSPS = 33
	h265TypePPS = 34
	h265TypeAUD = 35
	h265TypeAP  = 48
	h265TypeFU  = 49
)

// A camera that sends H.265 parameter sets only in the SDP's sprop-vps,
// sprop-sps and sprop-pps plays over WHEP with VPS, SPS and PPS in-band
// before every IRAP picture, and the stream's fmtp names the profile,
// tier and level of that SPS.
func TestSpropOnlyH265CameraOverWHEP(t *testing.T) {
	aus, params := annexBUnits(t, h265Clip(t), h265NALType,
		func(typ byte) bool { return typ == h265TypeAUD },
		[]byte{h265TypeVPS, h265TypeSPS, h265TypePPS, h265TypeAUD})
	vps, sps, pps := params[h265TypeVPS], params[h265TypeSPS], params[h265TypePPS]
	if vps == nil || sps == nil || pps == nil {
		t.Fatal("the H.265 clip lacks a VPS, SPS or PPS")
	}
	enc := &rtph265.Encoder{PayloadType: 96}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	cam := startSpropCamera(t, &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}, aus, enc.Encode)
	ts := newTestServer(t, func(c *Config) { c.Camera.Devices = []string{"sprop265=" + cam.url + "#tcp"} })

	v := startViewer(t, ts, "devices/sprop265")
	var s h265.SPS
	if err := s.Unmarshal(sps); err != nil {
		t.Fatal(err)
	}
	ptl := s.ProfileTierLevel
	f := liveVideoFmtp(t, ts, "devices/sprop265")
	for _, want := range []string{
		"level-id=" + strconv.Itoa(int(ptl.GeneralLevelIdc)),
		"profile-id=" + strconv.Itoa(int(ptl.GeneralProfileIdc)),
		"tier-flag=" + strconv.Itoa(int(ptl.GeneralTierFlag)),
	} {
		if !strings.Contains(f, want) {
			t.Errorf("stream's H.265 fmtp is %q, want %s from the camera's SPS", f, want)
		}
	}
	if len(answerFmtps(t, v.answer, "H265")) == 0 {
		t.Fatalf("the answer has no H.265:\n%s", v.answer)
	}
	checkParamsBeforeKeyframes(t, v.video, spropH265)
}

// spropH265 reads H.265 RTP payloads (RFC 7798) for
// checkParamsBeforeKeyframes.
var spropH265 = spropCodec{
	name:   "H.265",
	types:  h265Types,
	params: []byte{h265TypeVPS, h265TypeSPS, h265TypePPS},
	key:    func(typ byte) bool { return typ >= 16 && typ <= 21 }, // IRAP
}

// h265NALType is the nal_unit_type of an H.265 NAL unit.
func h265NALType(n []byte) byte { return (n[0] >> 1) & 0x3f }

// h265Types lists the NAL unit types an RTP H.265 payload carries: every
// unit of an aggregation packet (no DONL: WebRTC does not negotiate it),
// the type of the first fragment of a fragmentation unit.
func h265Types(p []byte) []byte {
	if len(p) < 2 {
		return nil
	}
	switch t := h265NALType(p); t {
	case h265TypeAP:
		var out []byte
		for b := p[2:]; len(b) > 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				break
			}
			out = append(out, h265NALType(b[2:]))
			b = b[2+n:]
		}
		return out
	case h265TypeFU:
		if len(p) > 2 && p[2]&0x80 != 0 {
			return []byte{p[2] & 0x3f}
		}
		return nil
	default:
		return []byte{t}
	}
}

// h265Clip has FFmpeg (libx265) encode 4 s of test pattern: Main profile,
// an IDR every 25 frames, no B-frames, an AUD before every access unit.
// It skips the test when FFmpeg or libx265 is missing.
func h265Clip(t *testing.T) []byte {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (CI installs it)")
	}
	if out, err := exec.Command(ffmpeg, "-hide_banner", "-encoders").Output(); err != nil || !strings.Contains(string(out), "libx265") {
		t.Skip("ffmpeg has no libx265 encoder")
	}
	file := filepath.Join(t.TempDir(), "clip.h265")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4",
		"-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop=0",
		"-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc", file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
