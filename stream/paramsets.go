package stream

import (
	"bytes"
	"encoding/base64"
	"strings"

	"github.com/pion/rtp"
)

// Parameter sets.
//
// An H.264 decoder cannot start without the SPS and PPS, an H.265 decoder
// without the VPS, SPS and PPS. Some publishers send them only once, with
// their first keyframe: x264 and x265 write them once unless told to
// repeat them (x265 then also starts later GOPs with CRA pictures), and
// GStreamer's rtph264pay/rtph265pay add none at their default
// config-interval=0. A viewer who starts from a later keyframe would never
// get a picture. Each H.264/H.265 track therefore remembers the latest
// parameter sets that passed through it (or came in the SDP's sprop
// parameters), and a subscription that starts from a keyframe lacking
// them sends them first, in one aggregation packet.

// NAL unit types of parameter sets not named in keyframe.go.
const (
	h264PPS = 8  // RFC 6184 section 5.4; H.264 Table 7-1
	h265PPS = 34 // H.265 Table 7-1
)

// paramSetMax is the largest payload the hub sends ahead of a keyframe,
// the same budget the camera repacketizer keeps (WebRTC path MTU).
const paramSetMax = 1200

// maxParamSets is the number of slots of paramSets: H.264 uses two (SPS,
// PPS), H.265 three (VPS, SPS, PPS).
const maxParamSets = 3

// paramSets is an immutable snapshot of a track's parameter sets, one NAL
// unit per kind (the latest seen: a publisher with several PPS of
// different ids keeps only its last one here). A Track replaces its
// snapshot when a parameter set changes; items and subscriptions share
// snapshots read-only.
type paramSets struct {
	nalus [maxParamSets][]byte
	// pkts are the payloads to send ahead of a keyframe: one aggregation
	// packet, or the NAL units one per packet in slot order when that
	// would exceed paramSetMax. nil until every slot is filled.
	pkts [][]byte
}

// tracksParamSets reports whether the hub remembers parameter sets for vc.
func tracksParamSets(vc videoCodec) bool { return vc == codecH264 || vc == codecH265 }

// complete reports whether ps can be sent ahead of a keyframe.
func (ps *paramSets) complete() bool { return ps != nil && ps.pkts != nil }

// paramSetCount is the number of parameter set kinds of vc.
func paramSetCount(vc videoCodec) int {
	switch vc {
	case codecH264:
		return 2
	case codecH265:
		return 3
	}
	return 0
}

// paramSetSlot returns nalu's slot in paramSets, or -1 if it is not a
// parameter set of vc.
func paramSetSlot(vc videoCodec, nalu []byte) int {
	switch vc {
	case codecH264:
		if len(nalu) < 2 {
			return -1
		}
		switch nalu[0] & 0x1F {
		case h264SPS:
			return 0
		case h264PPS:
			return 1
		}
	case codecH265:
		if len(nalu) < 3 {
			return -1
		}
		switch (nalu[0] >> 1) & 0x3F {
		case h265VPS:
			return 0
		case h265SPS:
			return 1
		case h265PPS:
			return 2
		}
	}
	return -1
}

// eachNALU calls f with each whole NAL unit an RTP payload of vc carries:
// the payload itself for a single NAL unit packet, each unit of an
// aggregation packet (H.264 STAP-A, RFC 6184 section 5.7.1: a 1-byte
// header, then 16-bit size and NAL unit pairs; H.265 AP, RFC 7798 section
// 4.4.2: a 2-byte header, then the same pairs, without DONL, which WebRTC
// does not negotiate). It stops at a malformed size. Fragmentation units
// (FU-A, FU) are not reassembled: parameter sets are a few dozen bytes and
// publishers do not fragment them in practice, so one that comes only
// fragmented is not remembered.
func eachNALU(vc videoCodec, p []byte, f func(nalu []byte)) {
	var hdr int
	switch vc {
	case codecH264:
		if len(p) == 0 {
			return
		}
		switch p[0] & 0x1F {
		case h264STAPA:
			hdr = 1
		case h264FUA:
			return
		default:
			f(p)
			return
		}
	case codecH265:
		if len(p) < 2 {
			return
		}
		switch (p[0] >> 1) & 0x3F {
		case h265AP:
			hdr = 2
		case h265FU:
			return
		default:
			f(p)
			return
		}
	default:
		return
	}
	for i := hdr; i+2 <= len(p); {
		n := int(p[i])<<8 | int(p[i+1])
		i += 2
		if n == 0 || i+n > len(p) {
			return
		}
		f(p[i : i+n])
		i += n
	}
}

// carriesParamSets reports whether an RTP payload of vc holds a parameter
// set, whole or as the first fragment of one. A keyframe whose first
// packet does brings its own, and nothing is sent ahead of it.
func carriesParamSets(vc videoCodec, p []byte) bool {
	found := false
	eachNALU(vc, p, func(n []byte) {
		if paramSetSlot(vc, n) >= 0 {
			found = true
		}
	})
	if found {
		return true
	}
	switch vc {
	case codecH264: // FU-A: FU indicator, then |S|E|R|Type| (RFC 6184 section 5.8)
		return len(p) > 1 && p[0]&0x1F == h264FUA && p[1]&0x80 != 0 &&
			(p[1]&0x1F == h264SPS || p[1]&0x1F == h264PPS)
	case codecH265: // FU: 2-byte header, then |S|E|FuType| (RFC 7798 section 4.4.3)
		return len(p) > 2 && (p[0]>>1)&0x3F == h265FU && p[2]&0x80 != 0 &&
			p[2]&0x3F >= h265VPS && p[2]&0x3F <= h265PPS
	}
	return false
}

// learn returns ps updated with the parameter sets payload carries: ps
// itself when they repeat what ps holds (the common case, which allocates
// nothing), otherwise a new snapshot.
func (ps *paramSets) learn(vc videoCodec, payload []byte) *paramSets {
	var seen [maxParamSets][]byte
	var got [maxParamSets]bool
	eachNALU(vc, payload, func(n []byte) {
		if slot := paramSetSlot(vc, n); slot >= 0 {
			seen[slot], got[slot] = n, true
		}
	})
	return ps.with(vc, &seen, &got)
}

// with returns ps with the NAL units seen[i] for which got[i] is set: ps
// itself if none differs, otherwise a new snapshot. A parameter set too
// large to send in one packet empties its slot, so that a stale one is
// never sent for it.
func (ps *paramSets) with(vc videoCodec, seen *[maxParamSets][]byte, got *[maxParamSets]bool) *paramSets {
	var cur [maxParamSets][]byte
	if ps != nil {
		cur = ps.nalus
	}
	changed := false
	for i := range seen {
		if got[i] {
			if len(seen[i]) > paramSetMax {
				seen[i] = nil
			}
			changed = changed || !bytes.Equal(cur[i], seen[i])
		}
	}
	if !changed {
		return ps
	}
	next := &paramSets{nalus: cur} // unchanged slots share immutable bytes
	for i := range seen {
		if got[i] {
			next.nalus[i] = bytes.Clone(seen[i])
		}
	}
	next.build(vc)
	return next
}

// build sets ps.pkts once every slot of vc is filled.
func (ps *paramSets) build(vc videoCodec) {
	ps.pkts = nil
	n := paramSetCount(vc)
	hdr := 1
	if vc == codecH265 {
		hdr = 2
	}
	size := hdr
	for _, u := range ps.nalus[:n] {
		if len(u) == 0 {
			return
		}
		size += 2 + len(u)
	}
	if size > paramSetMax {
		ps.pkts = append([][]byte(nil), ps.nalus[:n]...)
		return
	}
	agg := make([]byte, hdr, size)
	if vc == codecH264 {
		agg[0] = stapAHeader(ps.nalus[:n])
	} else {
		agg[0], agg[1] = apHeader(ps.nalus[:n])
	}
	for _, u := range ps.nalus[:n] {
		agg = append(agg, byte(len(u)>>8), byte(len(u)))
		agg = append(agg, u...)
	}
	ps.pkts = [][]byte{agg}
}

// stapAHeader is the STAP-A header for nalus (RFC 6184 section 5.7): F set
// if any unit's F is, NRI the greatest of theirs, type 24.
func stapAHeader(nalus [][]byte) byte {
	var f, nri byte
	for _, u := range nalus {
		f |= u[0] & 0x80
		nri = max(nri, u[0]&0x60)
	}
	return f | nri | h264STAPA
}

// apHeader is the AP header for nalus (RFC 7798 section 4.4.2): F set if
// any unit's F is, type 48, LayerId and TID the lowest of theirs.
func apHeader(nalus [][]byte) (byte, byte) {
	var f byte
	layer, tid := byte(0x3F), byte(0x07)
	for _, u := range nalus {
		f |= u[0] & 0x80
		layer = min(layer, (u[0]&0x01)<<5|u[1]>>3)
		tid = min(tid, u[1]&0x07)
	}
	return f | h265AP<<1 | layer>>5, (layer&0x1F)<<3 | tid
}

// paramSetsFromFmtp decodes the parameter sets of an SDP fmtp line:
// sprop-parameter-sets for H.264 (RFC 6184 section 8.1, base64 NAL units
// separated by commas), sprop-vps, sprop-sps and sprop-pps for H.265 (RFC
// 7798 section 7.1). It returns nil when the line has none.
func paramSetsFromFmtp(vc videoCodec, fmtp string) *paramSets {
	var keys []string
	switch vc {
	case codecH264:
		keys = []string{"sprop-parameter-sets"}
	case codecH265:
		keys = []string{"sprop-vps", "sprop-sps", "sprop-pps"}
	default:
		return nil
	}
	var seen [maxParamSets][]byte
	var got [maxParamSets]bool
	for param := range strings.SplitSeq(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
		if !containsFold(keys, strings.TrimSpace(k)) {
			continue
		}
		for s := range strings.SplitSeq(v, ",") {
			n := decodeBase64(strings.TrimSpace(s))
			if slot := paramSetSlot(vc, n); slot >= 0 {
				seen[slot], got[slot] = n, true
			}
		}
	}
	return (*paramSets)(nil).with(vc, &seen, &got)
}

// decodeBase64 decodes standard base64 with or without padding; nil if s
// is not base64.
func decodeBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil
	}
	return b
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// noteParamSets keeps the parameter sets a packet of the track carries, or
// marks a keyframe start that lacks them with the sets to send first. It
// runs in Track.Write for H.264/H.265 video; t.mu must be held.
func (t *Track) noteParamSets(it *item, carries bool) {
	switch {
	case carries:
		t.ps = t.ps.learn(t.vc, it.p.Payload)
	case it.keyframe && t.ps.complete():
		it.ps = t.ps
	}
}

// sendParamSets sends ps ahead of the keyframe p that the subscription
// starts from: the packets take the sequence numbers p would have had
// and p's timestamp, with the marker bit clear. It returns how many it
// sent, for the caller to move its sequence offset by.
func (s *Subscription) sendParamSets(ps *paramSets, p *rtp.Packet) uint16 {
	out := &s.scratch
	for i, payload := range ps.pkts {
		*out = rtp.Packet{Header: rtp.Header{
			Version:        p.Version,
			PayloadType:    p.PayloadType,
			SequenceNumber: p.SequenceNumber + s.seqOff + uint16(i),
			Timestamp:      p.Timestamp + s.tsOff,
			SSRC:           p.SSRC,
			CSRC:           p.CSRC,
		}, Payload: payload}
		s.write(out)
		s.inserted.Add(1)
	}
	*out = rtp.Packet{}
	return uint16(len(ps.pkts))
}
