package whip

import (
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// sizer reads the picture size of a video from the packets that carry it
// (a VP8 keyframe's header, an H.264 SPS); other packets are passed over
// after a look at their first bytes. The hub shows layers' sizes to
// viewers choosing one; it does not parse codecs itself.
type sizer func(payload []byte) (width, height int, ok bool)

// sizerFor returns the sizer of a video codec, nil for codecs whose size
// wishcast does not read (VP9, AV1, H.265: their layers are ordered by
// bitrate alone).
func sizerFor(mime string) sizer {
	switch {
	case strings.EqualFold(mime, "video/VP8"):
		return vp8Size
	case strings.EqualFold(mime, "video/H264"):
		return h264Size
	}
	return nil
}

// vp8Size reads the size from the start of a VP8 keyframe (RFC 7741 §4.2
// payload descriptor; RFC 6386 §9.1 frame header).
func vp8Size(p []byte) (int, int, bool) {
	if len(p) < 1 || p[0]&0x10 == 0 || p[0]&0x07 != 0 { // S=1, PID=0
		return 0, 0, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return 0, 0, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 1 or 2 bytes
			if len(p) <= i {
				return 0, 0, false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	f := p[i:]
	if len(f) < 10 || f[0]&0x01 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	w := int(f[6]) | int(f[7]&0x3f)<<8
	h := int(f[8]) | int(f[9]&0x3f)<<8
	return w, h, w > 0 && h > 0
}

// h264Size reads the size from an SPS carried alone or in a STAP-A
// (RFC 6184 §5.6, §5.7.1).
func h264Size(p []byte) (int, int, bool) {
	if len(p) == 0 {
		return 0, 0, false
	}
	switch p[0] & 0x1f {
	case 7:
		return spsSize(p)
	case 24:
		for b := p[1:]; len(b) > 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				break
			}
			if b[2]&0x1f == 7 {
				return spsSize(b[2 : 2+n])
			}
			b = b[2+n:]
		}
	}
	return 0, 0, false
}

func spsSize(nalu []byte) (int, int, bool) {
	var sps h264.SPS
	if err := sps.Unmarshal(nalu); err != nil {
		return 0, 0, false
	}
	return sps.Width(), sps.Height(), true
}
