package rtsp

import (
	"errors"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"
)

// webrtcPayloadMax keeps packets under a typical path MTU once SRTP and
// the transport headers are added.
const webrtcPayloadMax = 1200

// NAL unit types (RFC 6184 and H.264 Table 7-1).
const (
	naluIDR = 5
	naluSPS = 7
	naluPPS = 8
	naluAUD = 9
)

// h264Repacketizer turns a camera's H.264 RTP into WebRTC-sized RTP:
// access units reassembled, parameter sets put in-band before every IDR
// (from the SDP when the camera sends them nowhere else), access unit
// delimiters dropped, payloads of at most 1200 bytes.
type h264Repacketizer struct {
	dec      *rtph264.Decoder
	enc      *rtph264.Encoder
	sps, pps []byte
	profile  string // profile-level-id once an SPS is known

	prevTS   uint32 // timestamp of the previous packet
	havePrev bool
	lastAU   uint32 // timestamp of the previous access unit
	haveAU   bool
	bframes  bool // an access unit went back in time: B-frames
	reported bool
}

func newH264Repacketizer(f *format.H264) (*h264Repacketizer, error) {
	if f.PacketizationMode >= 2 {
		return nil, errors.New("H.264 interleaved packetization (mode 2) is not supported")
	}
	dec, err := f.CreateDecoder()
	if err != nil {
		return nil, err
	}
	enc := &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: webrtcPayloadMax, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		return nil, err
	}
	r := &h264Repacketizer{dec: dec, enc: enc}
	sps, pps := f.SafeParams()
	r.setSPS(sps)
	if len(pps) > 0 {
		r.pps = append([]byte(nil), pps...)
	}
	return r, nil
}

func (r *h264Repacketizer) setSPS(sps []byte) {
	if len(sps) < 4 {
		return
	}
	r.sps = append(r.sps[:0], sps...)
	r.profile = profileLevelID(sps)
}

// packet consumes one camera packet and returns the packets of the access
// unit it completed, if any, and whether that unit is a keyframe.
func (r *h264Repacketizer) packet(p *rtp.Packet) ([]*rtp.Packet, bool) {
	au, err := r.dec.Decode(p)
	// The decoder completes a unit either on the marker bit (this
	// packet's timestamp) or on a timestamp change (the previous one).
	ts := p.Timestamp
	if r.havePrev && p.Timestamp != r.prevTS {
		ts = r.prevTS
	}
	r.prevTS, r.havePrev = p.Timestamp, true
	if err != nil || len(au) == 0 {
		return nil, false
	}
	return r.accessUnit(au, ts)
}

// accessUnit repacketizes one access unit with timestamp ts.
func (r *h264Repacketizer) accessUnit(au [][]byte, ts uint32) ([]*rtp.Packet, bool) {
	if r.haveAU && int32(ts-r.lastAU) < 0 {
		r.bframes = true
	}
	r.lastAU, r.haveAU = ts, true

	idr, hasSPS, hasPPS := false, false, false
	out := make([][]byte, 0, len(au)+2)
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch n[0] & 0x1f {
		case naluAUD:
			continue
		case naluSPS:
			hasSPS = true
			r.setSPS(n)
		case naluPPS:
			hasPPS = true
			r.pps = append(r.pps[:0], n...)
		case naluIDR:
			idr = true
		}
		// Own copy: the hub keeps packets, the decoder may not.
		out = append(out, append([]byte(nil), n...))
	}
	if r.profile == "" || len(out) == 0 {
		return nil, false // nothing decodable until parameter sets are known
	}
	if idr && (!hasSPS || !hasPPS) && len(r.pps) > 0 {
		out = append([][]byte{append([]byte(nil), r.sps...), append([]byte(nil), r.pps...)}, out...)
	}
	pkts, err := r.enc.Encode(out)
	if err != nil {
		return nil, false
	}
	for _, q := range pkts {
		q.Timestamp = ts
	}
	return pkts, idr
}
