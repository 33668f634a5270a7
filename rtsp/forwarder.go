package rtsp

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/wishcast/wishcast/stream"
)

// forwarder turns one camera format into hub packets.
type forwarder struct {
	s         *session
	info      stream.TrackInfo
	codecName string
	video     repacketizer // nil: packets pass through
	videoName string       // "H.264" or "H.265", for messages
}

// repacketizer rebuilds a camera's H.264 or H.265 RTP for browsers.
type repacketizer interface {
	// packet consumes one camera packet and returns the packets of the
	// access units it completed and whether one was a keyframe.
	packet(p *rtp.Packet) ([]*rtp.Packet, bool)
	// fmtp is the track's fmtp line, "" until the parameter sets are known.
	fmtp() string
	// newBFrames reports, once, that the camera sends B-frames.
	newBFrames() bool
}

// newForwarder returns the forwarder of f, or nil and why it cannot be
// forwarded to browsers.
func newForwarder(s *session, f format.Format) (*forwarder, string) {
	fw := &forwarder{s: s, codecName: f.Codec()}
	switch ff := f.(type) {
	case *format.H264:
		r, err := newH264Repacketizer(ff)
		if err != nil {
			return nil, err.Error()
		}
		fw.video, fw.videoName = r, "H.264"
		fw.info = stream.TrackInfo{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/H264", ClockRate: 90000, Fmtp: r.fmtp()}}
	case *format.H265:
		r, err := newH265Repacketizer(ff)
		if err != nil {
			return nil, err.Error()
		}
		fw.video, fw.videoName = r, "H.265"
		fw.info = stream.TrackInfo{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/H265", ClockRate: 90000, Fmtp: r.fmtp()}}
	case *format.VP8:
		fw.info = stream.TrackInfo{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/VP8", ClockRate: 90000}}
	case *format.VP9:
		fw.info = stream.TrackInfo{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/VP9", ClockRate: 90000, Fmtp: "profile-id=0"}}
	case *format.AV1:
		fw.info = stream.TrackInfo{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/AV1", ClockRate: 90000}}
	case *format.Opus:
		fw.info = stream.TrackInfo{Kind: stream.Audio, Codec: stream.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"}}
	case *format.G711:
		if ff.SampleRate != 8000 || ff.ChannelCount != 1 {
			return nil, fmt.Sprintf("G.711 at %d Hz with %d channels; browsers take 8000 Hz mono", ff.SampleRate, ff.ChannelCount)
		}
		mime := "audio/PCMA"
		if ff.MULaw {
			mime = "audio/PCMU"
		}
		fw.info = stream.TrackInfo{Kind: stream.Audio, Codec: stream.Codec{MimeType: mime, ClockRate: 8000}}
	case *format.MPEG4Audio:
		if ff.Config == nil {
			return nil, "AAC without its configuration"
		}
		// No browser plays AAC over WebRTC: viewers get it transcoded to
		// Opus (see package transcode), or no sound without FFmpeg.
		fw.codecName = "AAC"
		fw.info = stream.TrackInfo{Kind: stream.Audio, Codec: stream.Codec{MimeType: stream.MimeAAC, ClockRate: uint32(ff.ClockRate()),
			Channels: uint16(channelsOf(ff.RTPMap())), Fmtp: joinFmtp(ff.FMTP())}}
	case *format.MPEG4AudioLATM:
		return nil, "AAC in LATM cannot be played by browsers over WebRTC nor transcoded"
	default:
		return nil, "codec not supported by browsers over WebRTC"
	}
	return fw, ""
}

// channelsOf reads the channel count of an rtpmap encoding
// ("mpeg4-generic/48000/2"); 1 if it has none.
func channelsOf(rtpmap string) int {
	parts := strings.Split(rtpmap, "/")
	if len(parts) == 3 {
		if n, err := strconv.Atoi(parts[2]); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// joinFmtp writes fmtp parameters as an fmtp line, sorted by name.
func joinFmtp(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ";")
}

// ready reports whether the codec parameters are known. Session.mu must
// be held.
func (f *forwarder) ready() bool {
	return f.video == nil || f.info.Codec.Fmtp != ""
}

// h264Fmtp is the fmtp line of an H.264 track, "" until the profile is known.
func h264Fmtp(profile string) string {
	if profile == "" {
		return ""
	}
	return "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile
}

// packet is the gortsplib callback for this format.
func (f *forwarder) packet(p *rtp.Packet) {
	if f.video == nil {
		// Pass through, on a copy: the hub keeps packets.
		q := &rtp.Packet{Header: p.Header, Payload: append([]byte(nil), p.Payload...)}
		q.Header.Extension, q.Header.Extensions = false, nil
		f.s.write(f.info.Kind, q)
		return
	}
	pkts, key := f.video.packet(p)
	if len(pkts) == 0 {
		return
	}
	f.s.mu.Lock()
	if f.info.Codec.Fmtp == "" {
		f.info.Codec.Fmtp = f.video.fmtp()
	}
	f.s.mu.Unlock()
	if key {
		first := f.s.keyed.CompareAndSwap(false, true)
		f.s.c.p.setStatus(f.s.c.dev.Name, func(st *Status) {
			st.LastKeyframe = time.Now()
			if first {
				st.FirstKeyframe = st.LastKeyframe.Sub(f.s.began)
			}
		})
	}
	if f.video.newBFrames() {
		msg := "camera sends " + f.videoName + " with B-frames; browsers may show frames out of order: turn B-frames off in the camera"
		f.s.c.log.Warn(msg)
		f.s.c.p.setStatus(f.s.c.dev.Name, func(st *Status) { st.Warnings = append(st.Warnings, msg) })
	}
	for _, q := range pkts {
		f.s.write(stream.Video, q)
	}
}

// profileLevelID is the fmtp profile-level-id of an SPS.
func profileLevelID(sps []byte) string {
	if len(sps) < 4 {
		return ""
	}
	return hex.EncodeToString(sps[1:4])
}
