package stream

import "testing"

type kfCase struct {
	name    string
	payload []byte
	want    bool
}

func runKeyframeCases(t *testing.T, mime string, cases []kfCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := KeyframeStart(mime, c.payload); got != c.want {
				t.Fatalf("KeyframeStart(%q, % x) = %v, want %v", mime, c.payload, got, c.want)
			}
		})
	}
}

func TestKeyframeStartH264(t *testing.T) {
	runKeyframeCases(t, "video/H264", []kfCase{
		{"empty", nil, false},
		{"IDR", []byte{0x65, 0x88, 0x84}, true},
		{"SPS", []byte{0x67, 0x42, 0xe0, 0x1f}, true},
		{"PPS", []byte{0x68, 0xce, 0x38}, false},
		{"non-IDR slice", []byte{0x41, 0x9a}, false},
		{"SEI", []byte{0x06, 0x05}, false},
		{"STAP-A SPS+PPS", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"STAP-A PPS+IDR", []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88}, true},
		{"STAP-A SEI+slice", []byte{0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x41, 0x9a}, false},
		{"STAP-A truncated", []byte{0x78, 0x00}, false},
		{"STAP-A zero size", []byte{0x78, 0x00, 0x00, 0x65}, false},
		{"FU-A IDR start", []byte{0x7c, 0x85, 0x88}, true},
		{"FU-A IDR middle", []byte{0x7c, 0x05, 0x88}, false},
		{"FU-A IDR end", []byte{0x7c, 0x45, 0x88}, false},
		{"FU-A non-IDR start", []byte{0x7c, 0x81, 0x9a}, false},
		{"FU-A truncated", []byte{0x7c}, false},
	})
	if !KeyframeStart("VIDEO/h264", []byte{0x65}) {
		t.Error("MIME type must compare case-insensitively")
	}
}

func TestKeyframeStartH265(t *testing.T) {
	// NAL header: F(1) Type(6) LayerId(6) TID(3); first byte = type<<1.
	nal := func(typ byte) []byte { return []byte{typ << 1, 0x01} }
	ap := []byte{48 << 1, 0x01}
	withNALs := func(types ...byte) []byte {
		p := append([]byte(nil), ap...)
		for _, ty := range types {
			p = append(p, 0x00, 0x03, ty<<1, 0x01, 0xaa)
		}
		return p
	}
	fu := func(start bool, typ byte) []byte {
		h := typ
		if start {
			h |= 0x80
		}
		return []byte{49 << 1, 0x01, h, 0xaa}
	}
	runKeyframeCases(t, "video/H265", []kfCase{
		{"empty", nil, false},
		{"one byte", []byte{19 << 1}, false},
		{"IDR_W_RADL", nal(19), true},
		{"IDR_N_LP", nal(20), true},
		{"CRA", nal(21), true},
		{"BLA_W_LP", nal(16), true},
		{"VPS", nal(32), true},
		{"SPS", nal(33), true},
		{"PPS", nal(34), false},
		{"TRAIL_R", nal(1), false},
		{"reserved 22", nal(22), false},
		{"AP VPS SPS PPS", withNALs(32, 33, 34), true},
		{"AP PPS IDR", withNALs(34, 19), true},
		{"AP trail", withNALs(1, 0), false},
		{"FU IDR start", fu(true, 19), true},
		{"FU CRA start", fu(true, 21), true},
		{"FU IDR middle", fu(false, 19), false},
		{"FU trail start", fu(true, 1), false},
		{"FU truncated", []byte{49 << 1, 0x01}, false},
	})
}

func TestKeyframeStartVP8(t *testing.T) {
	runKeyframeCases(t, "video/VP8", []kfCase{
		{"empty", nil, false},
		{"key, no X", []byte{0x10, 0x50, 0x9d}, true},
		{"inter, no X", []byte{0x10, 0x51, 0x9d}, false},
		{"not start", []byte{0x00, 0x50}, false},
		{"start of partition 1", []byte{0x11, 0x50}, false},
		{"descriptor only", []byte{0x10}, false},
		// X=1, I=1 with 7-bit picture ID.
		{"X I7 key", []byte{0x90, 0x80, 0x05, 0x50}, true},
		{"X I7 inter", []byte{0x90, 0x80, 0x05, 0x51}, false},
		// X=1, I=1 with 15-bit picture ID (M=1): the P bit is one byte later.
		{"X I15 key", []byte{0x90, 0x80, 0x81, 0x23, 0x50}, true},
		{"X I15 inter", []byte{0x90, 0x80, 0x81, 0x23, 0x51}, false},
		// A 15-bit picture ID whose low byte looks like an inter frame header
		// must not be mistaken for the payload header.
		{"X I15 low byte odd, key", []byte{0x90, 0x80, 0x81, 0x01, 0x50}, true},
		// X=1, I L T K all set: picture ID (2), TL0PICIDX, TID/KEYIDX.
		{"X ILTK key", []byte{0x90, 0xf0, 0x80, 0x01, 0x07, 0x20, 0x50}, true},
		{"X ILTK inter", []byte{0x90, 0xf0, 0x80, 0x01, 0x07, 0x20, 0x51}, false},
		{"X L only key", []byte{0x90, 0x40, 0x07, 0x50}, true},
		{"X K only inter", []byte{0x90, 0x10, 0x01, 0x51}, false},
		{"X truncated", []byte{0x90, 0xf0, 0x80}, false},
		{"X no payload", []byte{0x90, 0x00}, false},
	})
}

func TestKeyframeStartVP9(t *testing.T) {
	runKeyframeCases(t, "video/VP9", []kfCase{
		{"empty", nil, false},
		// |I|P|L|F|B|E|V|Z|
		{"B, not P", []byte{0x08, 0x82}, true},
		{"B and P", []byte{0x48}, false},
		{"not B", []byte{0x04}, false},
		{"I7 B", []byte{0x88, 0x12}, true},
		{"I15 B", []byte{0x88, 0x81, 0x12}, true},
		// L=1: layer indices |TID|U|SID|D| then TL0PICIDX (non-flexible).
		{"I7 L SID0", []byte{0xa8, 0x12, 0x00, 0x05}, true},
		{"I7 L SID1", []byte{0xa8, 0x12, 0x02, 0x05}, false},
		{"I15 L SID0", []byte{0xa8, 0x81, 0x12, 0x20, 0x05}, true},
		{"I15 L SID2", []byte{0xa8, 0x81, 0x12, 0x04, 0x05}, false},
		// Flexible mode (F=1): no TL0PICIDX, SID read the same way.
		{"I7 L F SID0", []byte{0xb8, 0x12, 0x00}, true},
		{"I7 L F SID1 with D", []byte{0xb8, 0x12, 0x03}, false},
		{"no I, L SID0", []byte{0x28, 0x00, 0x05}, true},
		{"L truncated", []byte{0xa8, 0x12}, false},
		{"I truncated", []byte{0x88}, true}, // B=1, P=0, no layers: enough to tell
	})
}

func TestKeyframeStartAV1(t *testing.T) {
	runKeyframeCases(t, "video/AV1", []kfCase{
		{"empty", nil, false},
		// |Z|Y|W W|N|-|-|-|
		{"N set", []byte{0x18, 0x0a}, true},
		{"N clear", []byte{0x10, 0x32}, false},
		{"Z Y W N", []byte{0xf8}, true},
		{"Z Y W", []byte{0xf0}, false},
	})
}

func TestKeyframeStartOtherCodecs(t *testing.T) {
	for _, mime := range []string{"audio/opus", "video/unknown", "", "video/H266"} {
		if KeyframeStart(mime, []byte{0x65, 0x10, 0x08, 0xff}) {
			t.Errorf("KeyframeStart(%q) = true, want false", mime)
		}
	}
}
