package stream

import "strings"

// videoCodec identifies the codecs whose keyframes KeyframeStart can find.
type videoCodec uint8

const (
	codecOther videoCodec = iota
	codecH264
	codecH265
	codecVP8
	codecVP9
	codecAV1
)

// videoCodecOf maps a MIME type to a videoCodec (codecOther if unknown).
func videoCodecOf(mimeType string) videoCodec {
	switch {
	case strings.EqualFold(mimeType, "video/H264"):
		return codecH264
	case strings.EqualFold(mimeType, "video/H265"), strings.EqualFold(mimeType, "video/HEVC"):
		return codecH265
	case strings.EqualFold(mimeType, "video/VP8"):
		return codecVP8
	case strings.EqualFold(mimeType, "video/VP9"):
		return codecVP9
	case strings.EqualFold(mimeType, "video/AV1"):
		return codecAV1
	}
	return codecOther
}

// KeyframeStart reports whether an RTP payload of the given codec starts a
// keyframe (or the parameter sets that precede one), from the payload
// format's own headers:
//
//   - H.264 (RFC 6184): a single NAL unit of type 5 (IDR) or 7 (SPS), a
//     STAP-A holding one, or the start fragment of an FU-A of type 5 or 7.
//   - H.265 (RFC 7798): a NAL unit of an IRAP type (16-21) or VPS/SPS
//     (32/33), an aggregation packet holding one, or the start fragment of
//     an FU of an IRAP type.
//   - VP8 (RFC 7741): start of partition 0 (S=1, PID=0) whose VP8 payload
//     header has P=0.
//   - VP9 (RFC 9628): B=1 and P=0, on spatial layer 0 if layer indices are
//     present.
//   - AV1 (AV1 RTP payload format): the aggregation header's N bit.
//
// Other codecs, and payloads too short to tell, return false.
func KeyframeStart(mimeType string, payload []byte) bool {
	return keyframeStart(videoCodecOf(mimeType), payload)
}

// keyframeStart is KeyframeStart with the codec already resolved; Track.Write
// uses it to avoid comparing MIME types per packet.
func keyframeStart(c videoCodec, payload []byte) bool {
	switch c {
	case codecH264:
		return h264KeyframeStart(payload)
	case codecH265:
		return h265KeyframeStart(payload)
	case codecVP8:
		return vp8KeyframeStart(payload)
	case codecVP9:
		return vp9KeyframeStart(payload)
	case codecAV1:
		return len(payload) > 0 && payload[0]&0x08 != 0
	}
	return false
}

// H.264 NAL unit types (RFC 6184 section 5.4).
const (
	h264IDR   = 5
	h264SPS   = 7
	h264STAPA = 24
	h264FUA   = 28
)

func h264Key(nalType byte) bool { return nalType == h264IDR || nalType == h264SPS }

func h264KeyframeStart(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch t := p[0] & 0x1F; t {
	case h264STAPA:
		// STAP-A: 1-byte header, then (16-bit size, NAL unit)* (section 5.7.1).
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if size == 0 {
				return false
			}
			if h264Key(p[i+2] & 0x1F) {
				return true
			}
			i += 2 + size
		}
		return false
	case h264FUA:
		// FU indicator, then FU header |S|E|R|Type| (section 5.8).
		return len(p) > 1 && p[1]&0x80 != 0 && h264Key(p[1]&0x1F)
	default:
		return h264Key(t)
	}
}

// H.265 NAL unit types (RFC 7798 section 1.1.4 and 4.4).
const (
	h265IRAPFirst = 16
	h265IRAPLast  = 21
	h265VPS       = 32
	h265SPS       = 33
	h265AP        = 48
	h265FU        = 49
)

func h265IRAP(t byte) bool { return t >= h265IRAPFirst && t <= h265IRAPLast }

func h265Key(t byte) bool { return h265IRAP(t) || t == h265VPS || t == h265SPS }

func h265KeyframeStart(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch t := (p[0] >> 1) & 0x3F; t {
	case h265AP:
		// AP: 2-byte header, then (16-bit size, NAL unit)* without DONL,
		// which WebRTC does not negotiate (section 4.4.2).
		for i := 2; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if size == 0 {
				return false
			}
			if h265Key((p[i+2] >> 1) & 0x3F) {
				return true
			}
			i += 2 + size
		}
		return false
	case h265FU:
		// 2-byte header, then FU header |S|E|FuType| (section 4.4.3).
		return len(p) > 2 && p[2]&0x80 != 0 && h265IRAP(p[2]&0x3F)
	default:
		return h265Key(t)
	}
}

// vp8KeyframeStart parses the VP8 payload descriptor (RFC 7741 section 4.2)
// and the first byte of the VP8 payload header (section 4.3).
func vp8KeyframeStart(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	b0 := p[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S=1 and PID=0
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: extension byte |I|L|T|K|RSV|
		if len(p) <= i {
			return false
		}
		x := p[i]
		i++
		if x&0x80 != 0 { // I: picture ID, 15 bits if M is set
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: |TID|Y|KEYIDX|
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0 // P bit: 0 is a key frame
}

// vp9KeyframeStart parses the VP9 payload descriptor (RFC 9628 section 4.2).
func vp9KeyframeStart(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	b0 := p[0] // |I|P|L|F|B|E|V|Z|
	if b0&0x08 == 0 || b0&0x40 != 0 {
		return false // not the start of a frame, or inter-predicted
	}
	if b0&0x20 == 0 { // no layer indices: a single spatial layer
		return true
	}
	i := 1
	if b0&0x80 != 0 { // I: picture ID, 15 bits if M is set
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	// Layer indices |TID|U|SID|D|; in flexible mode (F=1) no TL0PICIDX
	// follows, in non-flexible mode one does; neither matters here, and P=0
	// means no reference indices follow.
	return len(p) > i && (p[i]>>1)&0x07 == 0
}
