package rtsp

import (
	"errors"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
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
	auAssembler
	dec      *rtph264.Decoder
	enc      *rtph264.Encoder
	sps, pps []byte
	profile  string // profile-level-id once an SPS is known
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
	r := &h264Repacketizer{
		auAssembler: auAssembler{maxNALUs: h264.MaxNALUsPerAccessUnit, maxSize: h264.MaxAccessUnitSize},
		dec:         dec,
		enc:         enc,
	}
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

// fmtp is the track's fmtp line, "" until the profile is known.
func (r *h264Repacketizer) fmtp() string { return h264Fmtp(r.profile) }

// packet consumes one camera packet and returns the packets of the access
// units it completed, if any, and whether one of them is a keyframe.
func (r *h264Repacketizer) packet(p *rtp.Packet) ([]*rtp.Packet, bool) {
	return r.feed(p, r.dec.Decode, r.accessUnit)
}

// accessUnit repacketizes one access unit with timestamp ts.
func (r *h264Repacketizer) accessUnit(au [][]byte, ts uint32) ([]*rtp.Packet, bool) {
	r.order(ts)
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
		out = append(out, n)
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

// auAssembler is what the H.264 and H.265 repacketizers share: it gathers
// access units from the NAL units of single packets, and notices B-frames.
//
// A unit ends on the marker bit or when the timestamp changes (some
// cameras never set the marker), so each unit keeps its own timestamp.
// The NAL units it hands over are its own copies: the hub keeps packets,
// the decoder's buffers are not ours.
type auAssembler struct {
	maxNALUs, maxSize int        // past these a unit is dropped
	scratch           rtp.Packet // the packet as given to the decoder

	nalus   [][]byte // the unit being gathered
	size    int
	ts      uint32 // timestamp of the previous packet
	havePkt bool
	tooBig  bool // drop the unit being gathered

	lastAU   uint32 // timestamp of the previous access unit
	haveAU   bool
	bframes  bool // an access unit went back in time: B-frames
	reported bool
}

// feed depacketizes p with decode, gathers its NAL units and hands every
// access unit that p completes to unit; it returns unit's packets and
// whether one of the units was a keyframe.
func (a *auAssembler) feed(p *rtp.Packet,
	decode func(*rtp.Packet) ([][]byte, error),
	unit func(au [][]byte, ts uint32) ([]*rtp.Packet, bool),
) ([]*rtp.Packet, bool) {
	// With the marker forced the decoder returns each packet's NAL units
	// at once (none while a fragmented unit goes on); units are gathered
	// here, the same way for both codecs (gortsplib's H.265 decoder
	// would only end them on the marker bit).
	a.scratch = *p
	a.scratch.Marker = true
	nalus, err := decode(&a.scratch)
	if err != nil {
		nalus = nil
	}
	var out []*rtp.Packet
	key := false
	emit := func(au [][]byte, ts uint32) {
		pkts, k := unit(au, ts)
		out = append(out, pkts...)
		key = key || k
	}
	if a.havePkt && p.Timestamp != a.ts {
		if au := a.take(); len(au) > 0 {
			emit(au, a.ts)
		}
	}
	a.ts, a.havePkt = p.Timestamp, true
	for _, n := range nalus {
		a.size += len(n)
		if len(a.nalus) >= a.maxNALUs || a.size > a.maxSize {
			a.tooBig = true
		}
		if !a.tooBig {
			a.nalus = append(a.nalus, append([]byte(nil), n...))
		}
	}
	if p.Marker {
		if au := a.take(); len(au) > 0 {
			emit(au, p.Timestamp)
		}
	}
	return out, key
}

// take ends the unit being gathered and returns it, nil if it was dropped.
func (a *auAssembler) take() [][]byte {
	au := a.nalus
	if a.tooBig {
		au = nil
	}
	a.nalus, a.size, a.tooBig = nil, 0, false
	return au
}

// order notes the timestamp of an access unit: one earlier than the
// previous unit's means B-frames.
func (a *auAssembler) order(ts uint32) {
	if a.haveAU && int32(ts-a.lastAU) < 0 {
		a.bframes = true
	}
	a.lastAU, a.haveAU = ts, true
}

// newBFrames reports B-frames once, the first time they are seen.
func (a *auAssembler) newBFrames() bool {
	if !a.bframes || a.reported {
		return false
	}
	a.reported = true
	return true
}
