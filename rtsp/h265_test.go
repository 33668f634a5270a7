package rtsp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// Parameter sets of a 320x240 Main profile stream made by libx265
// (ffmpeg -f lavfi -i testsrc=size=320x240:rate=25 -pix_fmt yuv420p
// -c:v libx265), and SPSs of the same with other settings.
var (
	testVPS = []byte{
		0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
		0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x95, 0x90, 0x09,
	}
	testH265SPS = []byte{
		0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59,
		0x59, 0x24, 0x93, 0x2b, 0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00, 0x02,
		0x00, 0x00, 0x03, 0x00, 0x32, 0x10,
	}
	testH265PPS = []byte{
		0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40,
	}
	// 1280x720, high tier, level 5.1.
	highTierSPS = []byte{
		0x42, 0x01, 0x01, 0x21, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x03, 0x00, 0x99, 0xa0, 0x02, 0x80, 0x80, 0x2d, 0x16,
		0x59, 0x59, 0xa4, 0x93, 0x2b, 0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00,
		0x02, 0x00, 0x00, 0x03, 0x00, 0x32, 0x10,
	}
	// -pix_fmt yuv420p10le: Main 10.
	main10SPS = []byte{
		0x42, 0x01, 0x01, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x13, 0x65,
		0x95, 0x9a, 0x49, 0x32, 0xbc, 0x05, 0xa0, 0x20, 0x00, 0x00, 0x03, 0x00,
		0x20, 0x00, 0x00, 0x03, 0x03, 0x21,
	}
	// 4:4:4: format range extensions.
	rext444SPS = []byte{
		0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9e, 0x08, 0x00,
		0x00, 0x03, 0x00, 0x00, 0x3c, 0x90, 0x01, 0x41, 0x01, 0xe2, 0xcb, 0x2b,
		0x24, 0x92, 0x65, 0x78, 0x0b, 0x70, 0x20, 0x20, 0x00, 0x40, 0x00, 0x00,
		0x03, 0x00, 0x40, 0x00, 0x00, 0x06, 0x42,
	}
)

const testH265Fmtp = "level-id=60;profile-id=1;tier-flag=0;tx-mode=SRST"

// H.265 NAL unit types used below besides those of h265.go.
const (
	h265TrailN   = 0
	h265TrailR   = 1
	h265IDRWRADL = 19
	h265SEI      = 39
)

// h265NAL is a NAL unit of type typ and size bytes (temporal id 0).
func h265NAL(typ byte, size int) []byte {
	b := bytes.Repeat([]byte{0xab}, size)
	b[0], b[1] = typ<<1, 0x01
	return b
}

var h265AUDNAL = []byte{h265AUD << 1, 0x01, 0x50}

// h265CameraPackets packetizes access units the way a camera would, with a
// large payload size so repacketizing has work to do.
func h265CameraPackets(t testing.TB, aus [][][]byte, ts0 uint32) []*rtp.Packet {
	t.Helper()
	enc := &rtph265.Encoder{PayloadType: 96, PayloadMaxSize: 1400}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	var out []*rtp.Packet
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = ts0 + uint32(i)*3600
		}
		out = append(out, pkts...)
	}
	return out
}

func newTestH265(t testing.TB, f *format.H265) *h265Repacketizer {
	t.Helper()
	r, err := newH265Repacketizer(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func h265Types(au [][]byte) []byte {
	var types []byte
	for _, n := range au {
		types = append(types, h265Type(n))
	}
	return types
}

// Parameter sets known only from the SDP are put in-band before each IRAP
// picture, AUDs are dropped, no payload exceeds 1200 bytes, and the units
// come out whole, with their timestamps, through gortsplib's decoder.
func TestH265RepacketizeInjectsParameterSets(t *testing.T) {
	r := newTestH265(t, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
	if got := r.fmtp(); got != testH265Fmtp {
		t.Fatalf("fmtp %q, want %q", got, testH265Fmtp)
	}
	aus := [][][]byte{
		{h265AUDNAL, h265NAL(h265SEI, 40), h265NAL(h265IDRWRADL, 5000)},
		{h265AUDNAL, h265NAL(h265TrailR, 800)},
		{h265AUDNAL, h265NAL(h265TrailN, 30), h265NAL(h265TrailN, 20)},
		{h265AUDNAL, h265NAL(h265IRAPLast, 3000)},  // CRA
		{h265AUDNAL, h265NAL(h265IRAPFirst, 1300)}, // BLA
	}
	in := h265CameraPackets(t, aus, 1000)
	var out []*rtp.Packet
	keys := 0
	for _, p := range in {
		pkts, key := r.packet(p)
		if key {
			keys++
		}
		out = append(out, pkts...)
	}
	// The last unit completes on its marker bit.
	if keys != 3 {
		t.Fatalf("%d keyframes, want 3", keys)
	}
	dec := &rtph265.Decoder{}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var units [][][]byte
	var stamps []uint32
	for _, p := range out {
		if len(p.Payload) > webrtcPayloadMax {
			t.Fatalf("payload %d bytes > %d", len(p.Payload), webrtcPayloadMax)
		}
		au, err := dec.Decode(p)
		if err == nil {
			units = append(units, au)
			stamps = append(stamps, p.Timestamp)
		} else if !errors.Is(err, rtph265.ErrMorePacketsNeeded) {
			t.Fatal(err)
		}
	}
	if len(units) != len(aus) {
		t.Fatalf("%d access units out, want %d", len(units), len(aus))
	}
	for i, au := range units {
		want := aus[i][1:] // no AUD
		if h265IRAP(h265Type(want[len(want)-1])) {
			want = append([][]byte{testVPS, testH265SPS, testH265PPS}, want...)
		}
		if !slicesEqual(au, want) {
			t.Errorf("unit %d NAL types %v, want %v (or contents differ)", i, h265Types(au), h265Types(want))
		}
		if stamps[i] != 1000+uint32(i)*3600 {
			t.Errorf("unit %d timestamp %d, want %d", i, stamps[i], 1000+i*3600)
		}
	}
}

func h265IRAP(t byte) bool { return t >= h265IRAPFirst && t <= h265IRAPLast }

func slicesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// An IRAP picture that brings its parameter sets gets no second copy, and
// in-band parameter sets replace those of the SDP.
func TestH265KeepsInBandParameterSets(t *testing.T) {
	r := newTestH265(t, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
	pkts, key := r.accessUnit([][]byte{testVPS, highTierSPS, testH265PPS, h265NAL(h265IDRWRADL, 100)}, 0)
	if !key || len(pkts) != 1 {
		t.Fatalf("key %v, %d packets, want one aggregation packet", key, len(pkts))
	}
	if n := bytes.Count(pkts[0].Payload, highTierSPS); n != 1 || bytes.Contains(pkts[0].Payload, testH265SPS) {
		t.Fatalf("in-band SPS %d times, SDP SPS %v", n, bytes.Contains(pkts[0].Payload, testH265SPS))
	}
	pkts, _ = r.accessUnit([][]byte{h265NAL(h265IRAPLast, 100)}, 3600)
	if len(pkts) != 1 || !bytes.Contains(pkts[0].Payload, highTierSPS) {
		t.Fatal("the in-band SPS is not the one injected later")
	}
}

// Without sprop parameter sets nothing is sent until VPS, SPS and PPS have
// all been seen in-band, and the fmtp comes from that SPS.
func TestH265WaitsForParameterSets(t *testing.T) {
	r := newTestH265(t, &format.H265{PayloadTyp: 96})
	send := func(aus ...[][]byte) []*rtp.Packet {
		t.Helper()
		var out []*rtp.Packet
		for _, p := range h265CameraPackets(t, aus, 0) {
			pkts, _ := r.packet(p)
			out = append(out, pkts...)
		}
		return out
	}
	if out := send(
		[][]byte{h265NAL(h265TrailR, 100)},
		[][]byte{testVPS, testH265SPS, h265NAL(h265IDRWRADL, 100)}, // no PPS
		[][]byte{h265NAL(h265TrailR, 100)},
	); len(out) != 0 || r.fmtp() != "" {
		t.Fatalf("%d packets, fmtp %q before the PPS", len(out), r.fmtp())
	}
	out := send(
		[][]byte{testH265PPS, h265NAL(h265TrailR, 100)},
		[][]byte{h265NAL(h265TrailR, 100)},
	)
	if len(out) == 0 || r.fmtp() != testH265Fmtp {
		t.Fatalf("%d packets, fmtp %q", len(out), r.fmtp())
	}
	// An SPS whose profile cannot be read does not count.
	r = newTestH265(t, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS[:10], PPS: testH265PPS})
	if r.fmtp() != "" {
		t.Fatalf("fmtp %q from a truncated SPS", r.fmtp())
	}
}

// Units end on the marker bit or on a timestamp change, and keep their
// own timestamps either way, single-packet units included.
func TestH265UnitTimestamps(t *testing.T) {
	aus := [][][]byte{
		{h265NAL(h265IDRWRADL, 3000)},
		{h265NAL(h265TrailR, 50)},
		{h265NAL(h265TrailR, 60)},
		{h265NAL(h265TrailR, 2000)},
	}
	for _, marker := range []bool{true, false} {
		r := newTestH265(t, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
		var stamps []uint32
		for _, p := range h265CameraPackets(t, aus, 90000) {
			p.Marker = p.Marker && marker
			pkts, _ := r.packet(p)
			for _, q := range pkts {
				if q.Marker {
					stamps = append(stamps, q.Timestamp)
				}
			}
		}
		want := []uint32{90000, 93600, 97200, 100800}
		if !marker {
			want = want[:3] // the last one waits for the next timestamp
		}
		if len(stamps) != len(want) {
			t.Fatalf("marker %v: %d units, want %d", marker, len(stamps), len(want))
		}
		for i := range want {
			if stamps[i] != want[i] {
				t.Errorf("marker %v: unit %d timestamp %d, want %d", marker, i, stamps[i], want[i])
			}
		}
	}
}

// A unit with more NAL units than gortsplib allows is dropped whole, and
// the next one goes through.
func TestH265DropsOversizedUnits(t *testing.T) {
	r := newTestH265(t, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
	var big [][]byte
	for range h265.MaxNALUsPerAccessUnit + 1 {
		big = append(big, h265NAL(h265TrailR, 1300)) // one packet each
	}
	var stamps []uint32
	for _, p := range h265CameraPackets(t, [][][]byte{big, {h265NAL(h265TrailR, 10)}}, 0) {
		pkts, _ := r.packet(p)
		for _, q := range pkts {
			stamps = append(stamps, q.Timestamp)
		}
	}
	if len(stamps) != 1 || stamps[0] != 3600 {
		t.Fatalf("timestamps out %v, want [3600]", stamps)
	}
}

// A unit whose timestamp goes back in time marks B-frames, reported once.
func TestH265DetectsBFrames(t *testing.T) {
	r := newTestH265(t, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
	r.accessUnit([][]byte{h265NAL(h265IDRWRADL, 10)}, 9000)
	r.accessUnit([][]byte{h265NAL(h265TrailR, 10)}, 18000)
	if r.bframes || r.newBFrames() {
		t.Fatal("B-frames reported for increasing timestamps")
	}
	r.accessUnit([][]byte{h265NAL(h265TrailN, 10)}, 12000)
	if !r.newBFrames() {
		t.Fatal("B-frames not reported")
	}
	if r.newBFrames() {
		t.Fatal("B-frames reported twice")
	}
}

// The fmtp's profile, tier and level are those of the SPS, the same as
// mediacommon's full parser finds, and can be read from SPSs that parser
// rejects.
func TestH265Fmtp(t *testing.T) {
	// mediacommon's "1920x1080" test SPS.
	mediacommonSPS := []byte{
		0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x03, 0x00, 0x78, 0xa0, 0x03, 0xc0, 0x80, 0x10, 0xe5,
		0x96, 0x66, 0x69, 0x24, 0xca, 0xe0, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
		0x00, 0x00, 0x03, 0x01, 0xe0, 0x80,
	}
	profileFromFlags := append([]byte(nil), testH265SPS...)
	profileFromFlags[3], profileFromFlags[4] = 0x00, 0x20 // idc 0, compatible with 2
	for _, c := range []struct {
		name   string
		sps    []byte
		want   string
		parsed bool // by mediacommon: cross-check
	}{
		{"main", testH265SPS, testH265Fmtp, true},
		{"mediacommon", mediacommonSPS, "level-id=120;profile-id=1;tier-flag=0;tx-mode=SRST", true},
		{"high tier", highTierSPS, "level-id=153;profile-id=1;tier-flag=1;tx-mode=SRST", true},
		{"main 10", main10SPS, "level-id=60;profile-id=2;tier-flag=0;tx-mode=SRST", true},
		{"4:4:4", rext444SPS, "level-id=60;profile-id=4;tier-flag=0;tx-mode=SRST", true},
		{"truncated", testH265SPS[:18], testH265Fmtp, false},
		{"profile from flags", profileFromFlags, "level-id=60;profile-id=2;tier-flag=0;tx-mode=SRST", false},
		{"too short", testH265SPS[:17], "", false},
		{"not an SPS", testVPS, "", false},
		{"empty", nil, "", false},
	} {
		got := h265Fmtp(c.sps)
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if !c.parsed {
			continue
		}
		var s h265.SPS
		if err := s.Unmarshal(c.sps); err != nil {
			t.Errorf("%s: mediacommon: %v", c.name, err)
			continue
		}
		ptl := s.ProfileTierLevel
		want := fmt.Sprintf("level-id=%d;profile-id=%d;tier-flag=%d;tx-mode=SRST", ptl.GeneralLevelIdc, ptl.GeneralProfileIdc, ptl.GeneralTierFlag)
		if got != want {
			t.Errorf("%s: %q, mediacommon reads %q", c.name, got, want)
		}
	}
}

// The forwarder of an H.265 format is a video/H265 track, ready once the
// parameter sets are known.
func TestH265Forwarder(t *testing.T) {
	fw, why := newForwarder(&session{}, &format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
	if fw == nil {
		t.Fatal(why)
	}
	c := fw.info.Codec
	if c.MimeType != "video/H265" || c.ClockRate != 90000 || c.Fmtp != testH265Fmtp || !fw.ready() {
		t.Fatalf("codec %+v, ready %v", c, fw.ready())
	}
	if fw, _ := newForwarder(&session{}, &format.H265{PayloadTyp: 96}); fw == nil || fw.ready() {
		t.Fatal("forwarder without parameter sets is ready")
	}
	if fw, _ := newForwarder(&session{}, &format.H265{PayloadTyp: 96, MaxDONDiff: 2}); fw != nil {
		t.Fatal("sprop-max-don-diff accepted")
	}
}

func FuzzH265Repacketizer(f *testing.F) {
	for _, p := range h265CameraPackets(f, [][][]byte{
		{testVPS, testH265SPS, testH265PPS, h265NAL(h265IDRWRADL, 3000)},
		{h265NAL(h265TrailR, 200)},
	}, 0) {
		b, _ := p.Marshal()
		f.Add(b)
	}
	hdr := []byte{0x80, 0xe0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}
	for _, payload := range [][]byte{
		{49 << 1, 0x01, 0x80 | h265IDRWRADL, 0xaa},    // FU start
		{49 << 1, 0x01, 0x40 | h265IDRWRADL, 0xaa},    // FU end
		{48 << 1, 0x01, 0x00, 0x03, 0x62, 0x01, 0x40}, // AP holding a type-49 NAL unit
		{48 << 1, 0x01, 0x00, 0x09, 0x40},             // AP with a bad size
		{50 << 1, 0x01, 0x00},                         // PACI
		{0x26},
	} {
		f.Add(append(append([]byte(nil), hdr...), payload...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := newH265Repacketizer(&format.H265{PayloadTyp: 96, VPS: testVPS, SPS: testH265SPS, PPS: testH265PPS})
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if p.Unmarshal(b) != nil {
			return
		}
		dec := &rtph265.Decoder{}
		if err := dec.Init(); err != nil {
			t.Fatal(err)
		}
		for i := range 4 { // the same packet again: continuations, repeats, a new timestamp
			pkts, _ := r.packet(&p)
			for _, q := range pkts {
				if len(q.Payload) > webrtcPayloadMax {
					t.Fatalf("payload %d bytes", len(q.Payload))
				}
				// What goes out depacketizes (gortsplib caps the NAL units
				// of one unit; browsers do not).
				q.Marker = true
				if _, err := dec.Decode(q); err != nil && !errors.Is(err, rtph265.ErrMorePacketsNeeded) &&
					!strings.Contains(err.Error(), "NALU count") {
					t.Fatalf("output packet %x: %v", q.Payload, err)
				}
			}
			p.SequenceNumber++
			if i == 1 {
				p.Timestamp += 3600
			}
		}
	})
}
