package transcode

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// Codecs the transcodes produce, as viewers' offers name them.
var (
	// VP8 is what H.264 and H.265 become for browsers without their
	// decoders (Firefox without OpenH264).
	VP8 = stream.Codec{MimeType: "video/VP8", ClockRate: 90000}
	// H264 is what H.265 becomes: constrained baseline, which every
	// browser with H.264 decodes.
	H264 = stream.Codec{MimeType: "video/H264", ClockRate: 90000, Fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	// Opus is what AAC becomes.
	Opus = stream.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"}
)

// target is one kind of transcode: what it makes and how FFmpeg makes it.
type target struct {
	name  string // the segment of the hub name: "vp8", "h264", "opus"
	kind  stream.Kind
	codec stream.Codec
	pt    uint8 // payload type of FFmpeg's RTP output
}

var targets = []target{
	{name: "vp8", kind: stream.Video, codec: VP8, pt: 96},
	{name: "h264", kind: stream.Video, codec: H264, pt: 102},
	{name: "opus", kind: stream.Audio, codec: Opus, pt: 111},
}

// routes lists, for each source codec, the targets it can become, the
// best first (H.264 decodes with less CPU than VP8 where a browser has it).
var routes = map[string][]string{
	"video/h264":          {"vp8"},
	"video/h265":          {"h264", "vp8"},
	"audio/mpeg4-generic": {"opus"},
}

func targetNamed(n string) (target, bool) {
	for _, t := range targets {
		if t.name == n {
			return t, true
		}
	}
	return target{}, false
}

func targetOf(c stream.Codec) (target, bool) {
	for _, t := range targets {
		if strings.EqualFold(t.codec.MimeType, c.MimeType) {
			return t, true
		}
	}
	return target{}, false
}

// keyframeEvery is the longest time between two keyframes of a
// transcoded video track, and the jump in input time that asks FFmpeg
// for one at once (see keyframeExpr and feed).
const keyframeEvery = 2 * time.Second

// keyframeExpr forces a keyframe at the first frame and at every frame
// keyframeEvery or more (in its timestamps) after the last forced one. A
// viewer's keyframe request is answered through it: the feed moves the
// source's timestamps on by keyframeEvery at the next frame, and the
// published track takes the jump out again (job.publish). FFmpeg takes no
// requests at run time, and a new FFmpeg would cost a start and a GOP.
var keyframeExpr = fmt.Sprintf("expr:isnan(prev_forced_t)+gte(t,prev_forced_t+%g)", keyframeEvery.Seconds())

// encoderArgs are FFmpeg's output options for t: real-time settings, a
// keyframe every keyframeEvery and on request (joining viewers start from
// the hub's cache of the latest one), and RTP to out.
func (t target) encoderArgs(cfg Config, out string) []string {
	var a []string
	switch t.name {
	case "vp8":
		// One thread: libvpx's own threads spin on a busy machine (measured
		// here: 2 threads took 9 times the CPU of one for the same frames).
		a = []string{"-an", "-c:v", "libvpx", "-threads", "1", "-deadline", "realtime", "-cpu-used", "8", "-lag-in-frames", "0",
			"-error-resilient", "1", "-auto-alt-ref", "0", "-b:v", kbps(cfg.VideoKbps), "-maxrate", kbps(cfg.VideoKbps),
			"-bufsize", kbps(cfg.VideoKbps), "-pix_fmt", "yuv420p", "-force_key_frames", keyframeExpr, "-fps_mode", "passthrough"}
	case "h264":
		a = []string{"-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline",
			"-level:v", "3.1", "-pix_fmt", "yuv420p", "-b:v", kbps(cfg.VideoKbps), "-maxrate", kbps(cfg.VideoKbps),
			"-bufsize", kbps(cfg.VideoKbps), "-force_key_frames", keyframeExpr, "-fps_mode", "passthrough"}
	case "opus":
		a = []string{"-vn", "-c:a", "libopus", "-ar", "48000", "-ac", "2", "-b:a", kbps(cfg.AudioKbps),
			"-application", "lowdelay", "-frame_duration", "20"}
	}
	return append(a, "-f", "rtp", "-payload_type", strconv.Itoa(int(t.pt)), out)
}

func kbps(n int) string { return strconv.Itoa(n) + "k" }

// inputSDP describes the source track for FFmpeg: RTP with payload type
// pt arriving on 127.0.0.1:port.
func inputSDP(k stream.Kind, c stream.Codec, pt uint8, port int) string {
	_, enc, _ := strings.Cut(c.MimeType, "/")
	rtpmap := fmt.Sprintf("%s/%d", enc, c.ClockRate)
	if c.Channels > 0 {
		rtpmap += "/" + strconv.Itoa(int(c.Channels))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=wishcast\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	fmt.Fprintf(&b, "m=%s %d RTP/AVP %d\r\na=rtpmap:%d %s\r\n", k, port, pt, pt, rtpmap)
	if c.Fmtp != "" {
		fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", pt, c.Fmtp)
	}
	return b.String()
}
