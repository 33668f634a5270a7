package stream

import (
	"testing"
	"time"
)

// H.265 parameter sets (NAL headers 0x40/0x42/0x44 0x01: VPS, SPS, PPS,
// layer 0, TID 1), abridged: the hub reads only their headers.
var (
	testVPS    = []byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0x95, 0x98, 0x09}
	testSPS265 = []byte{0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0xa0, 0x02, 0x80, 0x80, 0x2d, 0x16, 0x59, 0x59, 0xa4, 0x93, 0x2b, 0xc0, 0x5a}
	testPPS265 = []byte{0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40}
)

var h265Codec = Codec{MimeType: "video/H265", ClockRate: 90000}

// ap aggregates H.265 NAL units (RFC 7798 section 4.4.2) whose headers
// all have layer 0 and TID 1.
func ap(nalus ...[]byte) []byte {
	p := []byte{48 << 1, 0x01}
	for _, n := range nalus {
		p = append(p, byte(len(n)>>8), byte(len(n)))
		p = append(p, n...)
	}
	return p
}

func h265CRA(mark uint32) []byte   { return withMark([]byte{21 << 1, 0x01, 0xaf, 0x00}, mark) }
func h265Trail(mark uint32) []byte { return withMark([]byte{1 << 1, 0x01, 0xd0, 0x00}, mark) }

// h265FUIDR is the start of an FU (type 49) of an IDR_W_RADL (19).
func h265FUIDR(mark uint32) []byte { return withMark([]byte{49 << 1, 0x01, 0x80 | 19, 0xaf}, mark) }

// A publisher that sent VPS, SPS and PPS once (an AP before its first
// CRA, as x265 with rtph265pay config-interval=-1 does): a viewer who
// joins from a later cached CRA gets an AP of the three first.
func TestParamSetsH265BeforeCachedKeyframe(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, h265Codec, nil)
	tr.Write(pkt(1, 0, ap(testVPS, testSPS265, testPPS265)))
	tr.Write(marked(pkt(2, 0, h265CRA(2))))
	tr.Write(marked(pkt(3, 3000, h265Trail(3))))
	tr.Write(marked(pkt(4, 6000, h265CRA(4))))
	tr.Write(marked(pkt(5, 9000, h265Trail(5))))
	s := &recSink{}
	sub := tr.Subscribe(s)
	gs := expectStart(t, s, 4, ap(testVPS, testSPS265, testPPS265), h265CRA(4), h265Trail(5))
	checkInserted(t, gs, 1)
	if st := sub.Stats(); st.Inserted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A gated viewer gets them before the next IRAP picture, the start of an
// FU; parameter sets sent as single NAL units are aggregated.
func TestParamSetsH265BeforeGatedKeyframe(t *testing.T) {
	h := newTestHub(t, Config{KeyframeCachePackets: 2, KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, h265Codec, nil)
	tr.Write(pkt(1, 0, testVPS))
	tr.Write(pkt(2, 0, testSPS265))
	tr.Write(pkt(3, 0, testPPS265)) // overflows the cache: the next viewer waits
	tr.Write(marked(pkt(4, 0, h265CRA(4))))
	tr.Write(marked(pkt(5, 3000, h265Trail(5))))
	s := &recSink{}
	tr.Subscribe(s)
	tr.Write(marked(pkt(6, 6000, h265Trail(6))))
	tr.Write(pkt(7, 9000, h265FUIDR(7)))
	tr.Write(marked(pkt(8, 12000, h265Trail(8))))
	gs := expectStart(t, s, 7, ap(testVPS, testSPS265, testPPS265), h265FUIDR(7), h265Trail(8))
	checkInserted(t, gs, 1)
}

// Parameter sets of sprop-vps, sprop-sps and sprop-pps alone are used; a
// keyframe with its own AP gets nothing more.
func TestParamSetsH265FromSprop(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	c := h265Codec
	c.Fmtp = "profile-id=1;sprop-vps=" + sprop(testVPS) + ";sprop-sps=" + sprop(testSPS265) + ";sprop-pps=" + sprop(testPPS265)
	tr := publishVideo(t, h, c, nil)
	tr.Write(marked(pkt(20, 0, h265CRA(20))))
	s := &recSink{}
	tr.Subscribe(s)
	gs := expectStart(t, s, 20, ap(testVPS, testSPS265, testPPS265), h265CRA(20))
	checkInserted(t, gs, 1)

	tr.Write(pkt(21, 3000, ap(testVPS, testSPS265, testPPS265)))
	tr.Write(marked(pkt(22, 3000, h265CRA(22))))
	s2 := &recSink{}
	sub2 := tr.Subscribe(s2)
	expectStart(t, s2, 21, ap(testVPS, testSPS265, testPPS265), h265CRA(22))
	if st := sub2.Stats(); st.Inserted != 0 {
		t.Fatalf("stats %+v", st)
	}
}
