package rtsp

import (
	"errors"
	"strconv"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// H.265 NAL unit types (H.265 Table 7-1).
const (
	h265IRAPFirst = 16 // BLA_W_LP
	h265IRAPLast  = 21 // CRA_NUT
	h265VPS       = 32
	h265SPS       = 33
	h265PPS       = 34
	h265AUD       = 35
)

func h265Type(n []byte) byte { return (n[0] >> 1) & 0x3f }

// h265Repacketizer does for H.265 (RFC 7798) what h264Repacketizer does
// for H.264: access units reassembled, VPS, SPS and PPS put in-band before
// every IRAP picture that lacks them, access unit delimiters dropped,
// payloads of at most 1200 bytes. Nothing is sent until all three
// parameter sets are known.
type h265Repacketizer struct {
	auAssembler
	dec           *rtph265.Decoder
	enc           *rtph265.Encoder
	vps, sps, pps []byte // never changed in place: replaced
	spsFmtp       string // fmtp line from sps
}

func newH265Repacketizer(f *format.H265) (*h265Repacketizer, error) {
	if f.MaxDONDiff != 0 {
		return nil, errors.New("H.265 with decoding order numbers (sprop-max-don-diff) is not supported")
	}
	dec, err := f.CreateDecoder()
	if err != nil {
		return nil, err
	}
	enc := &rtph265.Encoder{PayloadType: 96, PayloadMaxSize: webrtcPayloadMax}
	if err := enc.Init(); err != nil {
		return nil, err
	}
	r := &h265Repacketizer{
		auAssembler: auAssembler{maxNALUs: h265.MaxNALUsPerAccessUnit, maxSize: h265.MaxAccessUnitSize},
		dec:         dec,
		enc:         enc,
	}
	vps, sps, pps := f.SafeParams()
	for _, n := range [][]byte{vps, sps, pps} {
		if len(n) >= 2 { // the NAL unit header
			r.setParam(append([]byte(nil), n...))
		}
	}
	return r, nil
}

// setParam keeps n if it is a usable VPS, SPS or PPS. n must not change
// afterwards.
func (r *h265Repacketizer) setParam(n []byte) {
	switch h265Type(n) {
	case h265VPS:
		r.vps = n
	case h265SPS:
		if f := h265Fmtp(n); f != "" {
			r.sps, r.spsFmtp = n, f
		}
	case h265PPS:
		r.pps = n
	}
}

func (r *h265Repacketizer) ready() bool {
	return r.vps != nil && r.sps != nil && r.pps != nil
}

// fmtp is the track's fmtp line, "" until the parameter sets are known.
func (r *h265Repacketizer) fmtp() string {
	if !r.ready() {
		return ""
	}
	return r.spsFmtp
}

// packet consumes one camera packet and returns the packets of the access
// units it completed, if any, and whether one of them is a keyframe.
func (r *h265Repacketizer) packet(p *rtp.Packet) ([]*rtp.Packet, bool) {
	return r.feed(p, r.dec.Decode, r.accessUnit)
}

// accessUnit repacketizes one access unit with timestamp ts.
func (r *h265Repacketizer) accessUnit(au [][]byte, ts uint32) ([]*rtp.Packet, bool) {
	r.order(ts)
	irap, has := false, 0 // has: bit 0 VPS, 1 SPS, 2 PPS in this unit
	out := make([][]byte, 0, len(au)+3)
	for _, n := range au {
		if len(n) < 2 { // shorter than a NAL unit header
			continue
		}
		switch t := h265Type(n); {
		case t == h265AUD, t >= 48:
			// 48-63 are no video data (RFC 7798 uses 48-50 for its
			// packet structures): sent alone they would read as those.
			continue
		case t >= h265IRAPFirst && t <= h265IRAPLast:
			irap = true
		case t == h265VPS || t == h265SPS || t == h265PPS:
			// Kept apart from n, which goes out in a packet the hub keeps.
			r.setParam(append([]byte(nil), n...))
			has |= 1 << (t - h265VPS)
		}
		out = append(out, n)
	}
	if !r.ready() || len(out) == 0 {
		return nil, false // nothing decodable until parameter sets are known
	}
	if irap && has != 0b111 {
		out = append([][]byte{r.vps, r.sps, r.pps}, out...)
	}
	pkts, err := r.enc.Encode(out)
	if err != nil {
		return nil, false
	}
	for _, q := range pkts {
		q.Timestamp = ts
	}
	return pkts, irap
}

// h265Fmtp is the fmtp line of an H.265 track for WebRTC
// (draft-ietf-avtcore-hevc-webrtc; RFC 7798 section 7.1), with profile,
// tier and level from the general profile_tier_level of sps, "" if sps is
// too short to hold it.
//
// That part of an SPS has a fixed layout (H.265 7.3.2.2.1 and 7.3.3): after
// the 2-byte NAL header and one byte of sps_video_parameter_set_id,
// sps_max_sub_layers_minus1 and sps_temporal_id_nesting_flag come
// profile_space (2 bits), tier_flag (1), profile_idc (5), 32 compatibility
// flags, 48 bits of constraint flags and level_idc (8). Reading it needs no
// full SPS parser, which could fail on parts of the SPS that do not matter
// here.
func h265Fmtp(sps []byte) string {
	if len(sps) < 2 || h265Type(sps) != h265SPS {
		return ""
	}
	b := h264.EmulationPreventionRemove(sps) // same escaping in H.265
	if len(b) < 15 {
		return ""
	}
	tier := (b[3] >> 5) & 1
	profile := b[3] & 0x1f
	if profile == 0 {
		// Only the compatibility flags tell (H.265 A.3): the first one set.
		profile = 1
		for j := 1; j < 32; j++ {
			if b[4+j/8]&(0x80>>(j%8)) != 0 {
				profile = byte(j)
				break
			}
		}
	}
	return "level-id=" + strconv.Itoa(int(b[14])) +
		";profile-id=" + strconv.Itoa(int(profile)) +
		";tier-flag=" + strconv.Itoa(int(tier)) +
		";tx-mode=SRST"
}
