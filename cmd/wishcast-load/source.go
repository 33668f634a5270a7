package main

import (
	"github.com/pion/webrtc/v4"
)

// The codecs -codec takes.
const (
	codecVP8  = "vp8"
	codecH264 = "h264"
)

// Payload types the load peers offer.
const (
	vp8PayloadType  = 96
	h264PayloadType = 102
)

// h264Fmtp is what the load peers offer for H.264: packetization mode 1
// (FU-A and STAP-A) and Constrained Baseline, the profile of the stream
// -codec h264 encodes and the one every browser takes.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// codecParameters is what the load peers register and the publisher's
// track offers for codec (codecVP8 or codecH264).
func codecParameters(codec string) webrtc.RTPCodecParameters {
	// The feedback a browser offers, so that the server arms the same
	// NACK and keyframe machinery it would for a real viewer.
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if codec == codecH264 {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp, RTCPFeedback: fb},
			PayloadType:        h264PayloadType,
		}
	}
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        vp8PayloadType,
	}
}

// keyStartFunc is the keyframe test of codec's RTP packets.
func keyStartFunc(codec string) func([]byte) bool {
	if codec == codecH264 {
		return isH264KeyStart
	}
	return isKeyStart
}

// source is the video a publisher sends: frames of RTP payloads, one
// frame every 1/fps seconds.
type source interface {
	// frame calls emit with the payload of each packet of frame n, in
	// order; last is true for the frame's last packet (the RTP marker).
	// The payload is valid only during the call. Frame n is a keyframe
	// when n is a multiple of the GOP.
	frame(n int, emit func(payload []byte, last bool))
	// packetsPerFrame is the mean number of packets in a frame.
	packetsPerFrame() float64
	// bitrate is the mean RTP payload bitrate, bits/s.
	bitrate() int
}

// vp8Source describes the synthetic VP8 stream: frames of frameBytes at
// fps, split into packets of at most packetBytes, a keyframe every gop
// frames.
type vp8Source struct {
	fps, gop    int
	frameBytes  int
	packetBytes int
	buf         []byte // the packet being filled
}

func newVP8Source(bitrate, packetBytes, fps, gop int) *vp8Source {
	fb := max(bitrate/8/fps, 16)
	return &vp8Source{fps: fps, gop: gop, frameBytes: fb, packetBytes: packetBytes, buf: make([]byte, packetBytes)}
}

// packetCount is how many packets carry one frame.
func (s *vp8Source) packetCount() int {
	return (s.frameBytes + s.packetBytes - 1) / s.packetBytes
}

// packetsPerFrame implements source.
func (s *vp8Source) packetsPerFrame() float64 { return float64(s.packetCount()) }

// bitrate implements source.
func (s *vp8Source) bitrate() int {
	total := 0
	for i := range s.packetCount() {
		total += s.packetSize(i)
	}
	return total * 8 * s.fps
}

// packetSize is the payload size of packet i of a frame: packetBytes for
// all but the last, which carries the rest of the frame (so the stream's
// bitrate is the one asked for).
func (s *vp8Source) packetSize(i int) int {
	n := s.packetCount()
	if i < n-1 {
		return s.packetBytes
	}
	return max(s.frameBytes-(n-1)*s.packetBytes, 8)
}

// frame implements source, filling one reused buffer.
func (s *vp8Source) frame(n int, emit func([]byte, bool)) {
	key := n%s.gop == 0
	count := s.packetCount()
	for i := range count {
		p := s.buf[:s.packetSize(i)]
		fillVP8(p, n, i, key)
		emit(p, i == count-1)
	}
}

// fillVP8 writes packet i of frame n into p (len(p) >= 8). The layout is
// the test harness's vp8Frame: a one-byte payload descriptor (S=1 on the
// first packet of a frame, PID 0), then on that first packet the frame
// tag whose P bit says key (0) or inter (1), and for a keyframe the start
// code and a 640x480 size.
func fillVP8(p []byte, frame, i int, key bool) {
	clear(p[:8])
	if i == 0 {
		p[0] = 0x10
		if key {
			p[1] = 0x00
			copy(p[4:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
		} else {
			p[1] = 0x01
		}
	}
	p[len(p)-1] = byte(frame)
}

// rtpPayloadOffset is where the payload of the RTP packet p starts, past
// its CSRCs and header extension; ok is false when p is too short.
func rtpPayloadOffset(p []byte) (off int, ok bool) {
	if len(p) < 12 {
		return 0, false
	}
	off = 12 + 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 { // header extension
		if len(p) < off+4 {
			return 0, false
		}
		off += 4 + 4*(int(p[off+2])<<8|int(p[off+3]))
	}
	return off, len(p) >= off
}
