package session

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
)

// forwardable lists the codecs wishcast forwards, by media kind.
var forwardable = map[string][]string{
	"audio": {"opus", "PCMU", "PCMA"},
	"video": {"H264", "H265", "VP8", "VP9", "AV1"},
}

// Forwardable returns the codec names wishcast takes for kind.
func Forwardable(kind string) []string { return append([]string(nil), forwardable[kind]...) }

// PickCodec returns the first codec of m that wishcast forwards, keeping
// the offerer's order, preferring H.264 packetization-mode=1 over mode 0
// (and interleaved mode 2, which is never taken). ok is false when none fits.
func PickCodec(m *Media) (c OfferedCodec, ok bool) {
	var fallback *OfferedCodec
	for i := range m.Codecs {
		oc := &m.Codecs[i]
		name := strings.TrimPrefix(oc.MimeType, m.Kind+"/")
		if !isForwardable(m.Kind, name) {
			continue
		}
		if strings.EqualFold(name, "H264") {
			switch fmtpValue(oc.Fmtp, "packetization-mode") {
			case "1":
			case "", "0":
				if fallback == nil {
					fallback = oc
				}
				continue
			default:
				continue
			}
		}
		return *oc, true
	}
	if fallback != nil {
		return *fallback, true
	}
	return OfferedCodec{}, false
}

func isForwardable(kind, name string) bool {
	for _, n := range forwardable[kind] {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// fmtpValue returns the value of key in an fmtp parameter list.
func fmtpValue(fmtp, key string) string {
	for p := range strings.SplitSeq(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Parameters converts an offered codec to pion's codec parameters.
func (c OfferedCodec) Parameters() webrtc.RTPCodecParameters {
	var fb []webrtc.RTCPFeedback
	for _, f := range c.Feedback {
		typ, param, _ := strings.Cut(f, " ")
		fb = append(fb, webrtc.RTCPFeedback{Type: typ, Parameter: param})
	}
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels,
			SDPFmtpLine: c.Fmtp, RTCPFeedback: fb,
		},
		PayloadType: webrtc.PayloadType(c.PayloadType),
	}
}

// Matching returns the offered codecs that carry mimeType (with the same
// H.264 packetization mode), followed by the RTX codecs that repair them,
// as pion codec parameters. For H.264 the payload types whose profile is
// the stream's come first: the answer's first one is what the viewer is
// sent, and it should name the profile the stream really has.
func (m *Media) Matching(mimeType, fmtp string) []webrtc.RTPCodecParameters {
	var out []webrtc.RTPCodecParameters
	pts := map[string]bool{}
	for _, c := range m.Codecs {
		if sameCodec(c, mimeType, fmtp) {
			out = append(out, c.Parameters())
			pts[strconv.Itoa(int(c.PayloadType))] = true
		}
	}
	if strings.EqualFold(mimeType, "video/H264") {
		want := h264Profile(fmtp)
		slices.SortStableFunc(out, func(a, b webrtc.RTPCodecParameters) int {
			am, bm := h264Profile(a.SDPFmtpLine) == want, h264Profile(b.SDPFmtpLine) == want
			switch {
			case am && !bm:
				return -1
			case bm && !am:
				return 1
			}
			return 0
		})
	}
	for _, c := range m.Codecs {
		if strings.EqualFold(c.MimeType, m.Kind+"/rtx") && pts[fmtpValue(c.Fmtp, "apt")] {
			out = append(out, c.Parameters())
		}
	}
	return out
}

// h264Profile is the profile of an H.264 fmtp: profile_idc and whether
// constraint_set1 (Constrained Baseline) is set, from profile-level-id
// (RFC 6184 §8.1); "" when absent or malformed.
func h264Profile(fmtp string) string {
	plid := fmtpValue(fmtp, "profile-level-id")
	if len(plid) != 6 {
		return ""
	}
	b, err := strconv.ParseUint(plid[:4], 16, 16)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%02x/%t", b>>8, b&0x40 != 0)
}

// sameCodec reports whether an offered codec can carry a stream's codec:
// the same MIME type and the parameters a decoder depends on (H.264
// packetization mode; H.265 profile and tier; VP9 profile).
func sameCodec(c OfferedCodec, mimeType, fmtp string) bool {
	if !strings.EqualFold(c.MimeType, mimeType) {
		return false
	}
	same := func(key, def string) bool {
		a, b := fmtpValue(c.Fmtp, key), fmtpValue(fmtp, key)
		if a == "" {
			a = def
		}
		if b == "" {
			b = def
		}
		return a == b
	}
	switch strings.ToLower(mimeType) {
	case "video/h264":
		return same("packetization-mode", "0")
	case "video/h265":
		return same("profile-id", "1") && same("tier-flag", "0")
	case "video/vp9":
		return same("profile-id", "0")
	}
	return true
}

// Offers reports whether m offers a codec that can carry mimeType with
// fmtp (see sameCodec).
func (m *Media) Offers(mimeType, fmtp string) bool {
	for _, c := range m.Codecs {
		if sameCodec(c, mimeType, fmtp) {
			return true
		}
	}
	return false
}
