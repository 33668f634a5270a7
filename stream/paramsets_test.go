package stream

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// H.264 parameter sets (a Constrained Baseline 640x480 SPS and its PPS),
// and a second SPS (level 4.0) for a mid-stream change.
var (
	testSPS  = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0c, 0x83, 0xc6, 0x0c, 0xa8}
	testPPS  = []byte{0x68, 0xce, 0x3c, 0x80}
	testSPS2 = []byte{0x67, 0x42, 0xc0, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x96, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc8, 0xf1, 0x83, 0x2a}
)

// stapA aggregates H.264 NAL units (RFC 6184 section 5.7.1); the header's
// NRI is 3, that of parameter sets.
func stapA(nalus ...[]byte) []byte {
	p := []byte{0x60 | 24}
	for _, n := range nalus {
		p = append(p, byte(len(n)>>8), byte(len(n)))
		p = append(p, n...)
	}
	return p
}

// withMark appends a 4-byte test marker at payload bytes 4..7 (see got.mark).
func withMark(hdr []byte, mark uint32) []byte {
	return append(hdr[:4:4], byte(mark>>24), byte(mark>>16), byte(mark>>8), byte(mark))
}

func idrNAL(mark uint32) []byte   { return withMark([]byte{0x65, 0x88, 0x84, 0x00}, mark) }
func sliceNAL(mark uint32) []byte { return withMark([]byte{0x41, 0x9a, 0x02, 0x00}, mark) }
func fuIDR(mark uint32) []byte    { return withMark([]byte{0x7c, 0x85, 0x88, 0x84}, mark) } // FU-A start
func fuEnd(mark uint32) []byte    { return withMark([]byte{0x7c, 0x45, 0x11, 0x22}, mark) }

// marked sets p's marker bit: the last packet of its access unit.
func marked(p *rtp.Packet) *rtp.Packet {
	p.Marker = true
	return p
}

// sprop is the fmtp parameter value for NAL units.
func sprop(nalus ...[]byte) string {
	var out []string
	for _, n := range nalus {
		out = append(out, base64.StdEncoding.EncodeToString(n))
	}
	return strings.Join(out, ",")
}

// expectStart checks that the sink got, in order, packets with the given
// payloads, that the first packet sent carries no marker bit and the same
// timestamp, SSRC and payload type as the second, and that sequence
// numbers run from firstSeq without a gap.
func expectStart(t *testing.T, s *recSink, firstSeq uint16, payloads ...[]byte) []got {
	t.Helper()
	waitFor(t, "packets", func() bool { return s.n.Load() >= int64(len(payloads)) })
	gs := s.got()
	if len(gs) != len(payloads) {
		t.Fatalf("sink got %d packets, want %d", len(gs), len(payloads))
	}
	for i, g := range gs {
		if !bytes.Equal(g.payload, payloads[i]) {
			t.Fatalf("packet %d has payload % x, want % x", i, g.payload, payloads[i])
		}
		if g.seq != firstSeq+uint16(i) {
			t.Fatalf("got seqs %v, want them from %d without a gap", s.seqs(), firstSeq)
		}
	}
	return gs
}

// checkInserted checks that the first n packets were inserted ahead of
// the keyframe that follows them: its timestamp, SSRC and payload type,
// and no marker bit.
func checkInserted(t *testing.T, gs []got, n int) {
	t.Helper()
	key := gs[n]
	for _, g := range gs[:n] {
		if g.marker || g.ts != key.ts || g.ssrc != key.ssrc || g.pt != key.pt {
			t.Fatalf("inserted packet %+v does not match its keyframe %+v (timestamp, SSRC, payload type; no marker)", g, key)
		}
	}
}

// A publisher that sent SPS and PPS once, with its first IDR: a viewer
// who joins later from the cached IDR gets a STAP-A of both first.
func TestParamSetsBeforeCachedKeyframe(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, h264Codec, nil)
	tr.Write(pkt(1, 0, stapA(testSPS, testPPS)))
	tr.Write(marked(pkt(2, 0, idrNAL(2))))
	tr.Write(marked(pkt(3, 3000, sliceNAL(3))))
	tr.Write(marked(pkt(4, 6000, idrNAL(4)))) // no parameter sets
	tr.Write(marked(pkt(5, 9000, sliceNAL(5))))

	s := &recSink{}
	sub := tr.Subscribe(s)
	tr.Write(marked(pkt(6, 12000, sliceNAL(6))))
	gs := expectStart(t, s, 4, stapA(testSPS, testPPS), idrNAL(4), sliceNAL(5), sliceNAL(6))
	checkInserted(t, gs, 1)
	if gs[1].ts != 6000 || !gs[1].marker {
		t.Fatalf("keyframe %+v", gs[1])
	}
	if st := sub.Stats(); st.Inserted != 1 || st.Sent != 4 {
		t.Fatalf("subscription stats %+v", st)
	}
	if st := tr.Stats(); st.CacheJoins != 1 {
		t.Fatalf("track stats %+v: not a cache join", st)
	}
}

// A viewer gated until the next keyframe (the cache overflowed) gets the
// parameter sets before that IDR, here the start of an FU-A.
func TestParamSetsBeforeGatedKeyframe(t *testing.T) {
	h := newTestHub(t, Config{KeyframeCachePackets: 2, KeyframeRequestInterval: time.Hour})
	var kf kfCounter
	tr := publishVideo(t, h, h264Codec, &kf)
	tr.Write(pkt(1, 0, stapA(testSPS, testPPS)))
	tr.Write(marked(pkt(2, 0, idrNAL(2))))
	tr.Write(marked(pkt(3, 3000, sliceNAL(3)))) // overflows the cache
	s := &recSink{}
	sub := tr.Subscribe(s)
	if kf.n.Load() != 1 {
		t.Fatal("a gated viewer asked for no keyframe")
	}
	tr.Write(marked(pkt(4, 6000, sliceNAL(4))))
	tr.Write(pkt(5, 9000, fuIDR(5)))
	tr.Write(marked(pkt(6, 9000, fuEnd(6))))
	tr.Write(marked(pkt(7, 12000, sliceNAL(7))))
	gs := expectStart(t, s, 5, stapA(testSPS, testPPS), fuIDR(5), fuEnd(6), sliceNAL(7))
	checkInserted(t, gs, 1)
	if st := sub.Stats(); st.Inserted != 1 || st.Skipped != 1 {
		t.Fatalf("subscription stats %+v", st)
	}
}

// Keyframes that bring their own parameter sets, aggregated or as single
// NAL units, get nothing inserted; nor does a track whose parameter sets
// are unknown or incomplete.
func TestParamSetsNotInserted(t *testing.T) {
	t.Run("STAP-A before every IDR, cache join", func(t *testing.T) {
		h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
		tr := publishVideo(t, h, h264Codec, nil)
		tr.Write(pkt(1, 0, stapA(testSPS, testPPS)))
		tr.Write(marked(pkt(2, 0, idrNAL(2))))
		tr.Write(pkt(3, 3000, stapA(testSPS, testPPS)))
		tr.Write(marked(pkt(4, 3000, idrNAL(4))))
		s := &recSink{}
		sub := tr.Subscribe(s)
		expectStart(t, s, 3, stapA(testSPS, testPPS), idrNAL(4))
		if st := sub.Stats(); st.Inserted != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("single SPS, PPS, IDR, gated", func(t *testing.T) {
		h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
		tr := publishVideo(t, h, h264Codec, nil)
		s := &recSink{}
		sub := tr.Subscribe(s) // no keyframe yet: gated
		tr.Write(pkt(1, 0, testSPS))
		tr.Write(pkt(2, 0, testPPS))
		tr.Write(marked(pkt(3, 0, idrNAL(3))))
		expectStart(t, s, 1, testSPS, testPPS, idrNAL(3))
		if st := sub.Stats(); st.Inserted != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
		tr := publishVideo(t, h, h264Codec, nil)
		tr.Write(marked(pkt(1, 0, idrNAL(1))))
		s := &recSink{}
		tr.Subscribe(s)
		expectStart(t, s, 1, idrNAL(1))
	})
	t.Run("SPS without PPS", func(t *testing.T) {
		h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
		tr := publishVideo(t, h, h264Codec, nil)
		tr.Write(marked(pkt(1, 0, testSPS)))
		tr.Write(marked(pkt(2, 3000, idrNAL(2))))
		s := &recSink{}
		tr.Subscribe(s)
		expectStart(t, s, 2, idrNAL(2))
	})
}

// Parameter sets known only from the SDP's sprop-parameter-sets are
// inserted too.
func TestParamSetsFromSprop(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	c := h264Codec
	c.Fmtp = "packetization-mode=1; sprop-parameter-sets=" + sprop(testSPS, testPPS) + ";profile-level-id=42c01f"
	tr := publishVideo(t, h, c, nil)
	tr.Write(marked(pkt(10, 0, idrNAL(10))))
	tr.Write(marked(pkt(11, 3000, sliceNAL(11))))
	s := &recSink{}
	tr.Subscribe(s)
	gs := expectStart(t, s, 10, stapA(testSPS, testPPS), idrNAL(10), sliceNAL(11))
	checkInserted(t, gs, 1)
}

// A new SPS mid-stream replaces the old one for later viewers.
func TestParamSetsChangeMidStream(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, h264Codec, nil)
	tr.Write(pkt(1, 0, stapA(testSPS, testPPS)))
	tr.Write(marked(pkt(2, 0, idrNAL(2))))
	tr.Write(pkt(3, 3000, testSPS2)) // a new SPS alone, the PPS unchanged
	tr.Write(marked(pkt(4, 3000, idrNAL(4))))
	tr.Write(marked(pkt(5, 6000, idrNAL(5))))
	s := &recSink{}
	tr.Subscribe(s)
	gs := expectStart(t, s, 5, stapA(testSPS2, testPPS), idrNAL(5))
	checkInserted(t, gs, 1)
}

// Parameter sets too large for one STAP-A of 1200 bytes go as single NAL
// unit packets, in order, and the sequence numbers still run on.
func TestParamSetsTooLargeToAggregate(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, h264Codec, nil)
	sps := append(slices.Clone(testSPS), make([]byte, 700)...)
	pps := append(slices.Clone(testPPS), make([]byte, 600)...)
	tr.Write(pkt(1, 0, sps))
	tr.Write(pkt(2, 0, pps))
	tr.Write(marked(pkt(3, 0, idrNAL(3))))
	tr.Write(marked(pkt(4, 3000, idrNAL(4))))
	s := &recSink{}
	sub := tr.Subscribe(s)
	tr.Write(marked(pkt(5, 6000, sliceNAL(5))))
	gs := expectStart(t, s, 4, sps, pps, idrNAL(4), sliceNAL(5))
	checkInserted(t, gs, 2)
	if st := sub.Stats(); st.Inserted != 2 {
		t.Fatalf("stats %+v", st)
	}

	// An SPS too large for any packet of its own is not sent, nor is the
	// one it replaced.
	tr.Write(marked(pkt(6, 9000, append(slices.Clone(testSPS), make([]byte, 1200)...))))
	tr.Write(marked(pkt(7, 12000, idrNAL(7))))
	s2 := &recSink{}
	tr.Subscribe(s2)
	expectStart(t, s2, 7, idrNAL(7))
}

// A viewer who stays through a change of publisher gets the parameter
// sets of the SDP again before the new publisher's first IDR, with its
// sequence numbers continuous; those the previous publisher sent in-band
// are not used for the new one.
func TestParamSetsAcrossPublishers(t *testing.T) {
	t.Run("sprop", func(t *testing.T) {
		h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
		c := h264Codec
		c.Fmtp = "packetization-mode=1;sprop-parameter-sets=" + sprop(testSPS, testPPS)
		p1, err := h.Publish("live/v", []TrackInfo{videoInfo(c, nil)})
		if err != nil {
			t.Fatal(err)
		}
		tr := p1.Track(Video)
		tr.Write(marked(pkt(100, 1000, idrNAL(100))))
		s := &recSink{}
		sub := tr.Subscribe(s)
		expectStart(t, s, 100, stapA(testSPS, testPPS), idrNAL(100))
		p1.Close()
		p2, err := h.Publish("live/v", []TrackInfo{videoInfo(c, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if p2.Track(Video) != tr {
			t.Fatal("the track was not kept for the new publisher")
		}
		tr.Write(marked(pkt(7, 555, sliceNAL(7)))) // skipped: no keyframe yet
		tr.Write(marked(pkt(8, 3555, idrNAL(8))))
		gs := expectStart(t, s, 100, stapA(testSPS, testPPS), idrNAL(100), stapA(testSPS, testPPS), idrNAL(8))
		checkInserted(t, gs[2:], 1)
		if int32(gs[2].ts-gs[1].ts) <= 0 {
			t.Fatalf("timestamps %d then %d: not forward across publishers", gs[1].ts, gs[2].ts)
		}
		if st := sub.Stats(); st.Inserted != 2 || st.Skipped != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("in-band", func(t *testing.T) {
		h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
		p1, err := h.Publish("live/v", []TrackInfo{videoInfo(h264Codec, nil)})
		if err != nil {
			t.Fatal(err)
		}
		tr := p1.Track(Video)
		tr.Write(pkt(1, 0, stapA(testSPS, testPPS)))
		tr.Write(marked(pkt(2, 0, idrNAL(2))))
		s := &recSink{}
		tr.Subscribe(s)
		expectStart(t, s, 1, stapA(testSPS, testPPS), idrNAL(2))
		p1.Close()
		if _, err := h.Publish("live/v", []TrackInfo{videoInfo(h264Codec, nil)}); err != nil {
			t.Fatal(err)
		}
		tr.Write(marked(pkt(50, 0, idrNAL(50))))
		expectStart(t, s, 1, stapA(testSPS, testPPS), idrNAL(2), idrNAL(50))
	})
}

func TestParamSetsFromFmtp(t *testing.T) {
	raw := base64.RawStdEncoding.EncodeToString
	for _, c := range []struct {
		name string
		vc   videoCodec
		fmtp string
		want []byte // the aggregation packet; nil: not complete
	}{
		{"H.264", codecH264, "sprop-parameter-sets=" + sprop(testSPS, testPPS), stapA(testSPS, testPPS)},
		{"H.264 unpadded, spaces, key case", codecH264, " Sprop-Parameter-Sets = " + raw(testSPS) + " , " + raw(testPPS) + " ;x=1", stapA(testSPS, testPPS)},
		{"H.264 SPS only", codecH264, "sprop-parameter-sets=" + sprop(testSPS), nil},
		{"H.264 not base64", codecH264, "sprop-parameter-sets=!!,??", nil},
		{"H.264 none", codecH264, "packetization-mode=1", nil},
		{"H.265", codecH265, "sprop-vps=" + sprop(testVPS) + ";sprop-sps=" + sprop(testSPS265) + ";sprop-pps=" + sprop(testPPS265), ap(testVPS, testSPS265, testPPS265)},
		{"H.265 without VPS", codecH265, "sprop-sps=" + sprop(testSPS265) + ";sprop-pps=" + sprop(testPPS265), nil},
		{"VP8", codecVP8, "sprop-parameter-sets=" + sprop(testSPS, testPPS), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := paramSetsFromFmtp(c.vc, c.fmtp)
			switch {
			case c.want == nil && ps.complete():
				t.Fatalf("complete parameter sets %x from %q", ps.pkts, c.fmtp)
			case c.want != nil && (!ps.complete() || len(ps.pkts) != 1 || !bytes.Equal(ps.pkts[0], c.want)):
				t.Fatalf("got %v from %q, want % x", ps, c.fmtp, c.want)
			}
		})
	}
}

// Parameter sets repeated before every keyframe (what most encoders do)
// cost no allocation and keep the snapshot.
func TestParamSetsRepeatAllocatesNothing(t *testing.T) {
	payload := stapA(testSPS, testPPS)
	ps := (*paramSets)(nil).learn(codecH264, payload)
	if !ps.complete() {
		t.Fatal("STAP-A of SPS and PPS not learned")
	}
	var again *paramSets
	allocs := testing.AllocsPerRun(100, func() {
		if carriesParamSets(codecH264, payload) {
			again = ps.learn(codecH264, payload)
		}
	})
	if allocs != 0 || again != ps {
		t.Fatalf("%v allocations, same snapshot %v", allocs, again == ps)
	}
}

func TestCarriesParamSets(t *testing.T) {
	for _, c := range []struct {
		name string
		vc   videoCodec
		p    []byte
		want bool
	}{
		{"H.264 SPS", codecH264, testSPS, true},
		{"H.264 PPS", codecH264, testPPS, true},
		{"H.264 IDR", codecH264, idrNAL(1), false},
		{"H.264 STAP-A SPS PPS", codecH264, stapA(testSPS, testPPS), true},
		{"H.264 STAP-A SEI IDR", codecH264, stapA([]byte{0x06, 0x05, 0x01}, idrNAL(1)), false},
		{"H.264 STAP-A truncated", codecH264, stapA(testSPS)[:5], false},
		{"H.264 FU-A IDR start", codecH264, fuIDR(1), false},
		{"H.264 FU-A SPS start", codecH264, []byte{0x7c, 0x87, 0x42}, true},
		{"H.264 empty", codecH264, nil, false},
		{"H.265 VPS", codecH265, testVPS, true},
		{"H.265 AP", codecH265, ap(testVPS, testSPS265, testPPS265), true},
		{"H.265 CRA", codecH265, h265CRA(1), false},
		{"H.265 FU IDR start", codecH265, h265FUIDR(1), false},
		{"H.265 FU SPS start", codecH265, []byte{0x62, 0x01, 0x80 | 33, 0x01}, true},
		{"H.265 short", codecH265, []byte{0x62}, false},
		{"H.265 FU without FU header", codecH265, []byte{0x62, 0x01}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := carriesParamSets(c.vc, c.p); got != c.want {
				t.Fatalf("carriesParamSets(% x) = %v, want %v", c.p, got, c.want)
			}
		})
	}
}
