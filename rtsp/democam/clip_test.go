package democam

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadEmbeddedClip(t *testing.T) {
	c, err := loadClip(clipH264, clipOpus, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.width != 640 || c.height != 360 || c.fps != 25 || c.frames != 200 {
		t.Errorf("got %dx%d %d fps %d frames, want 640x360 25 fps 200 frames",
			c.width, c.height, c.fps, c.frames)
	}
	if c.period != 8*time.Second || c.videoPeriod() != 8*90000 || c.audioPeriod() != 8*48000 {
		t.Errorf("period %v, %d video ticks, %d audio ticks", c.period, c.videoPeriod(), c.audioPeriod())
	}
	if len(c.audio) != 400 || c.channels != 1 {
		t.Errorf("%d audio packets, %d channels, want 400 mono", len(c.audio), c.channels)
	}
	if c.sps == nil || c.pps == nil {
		t.Fatal("no SPS/PPS")
	}
	for i, u := range c.video {
		if u.offset != uint64(i)*3600 {
			t.Fatalf("frame %d at %d ticks", i, u.offset)
		}
		for _, n := range u.nalus {
			if naluType(n) == naluAUD {
				t.Fatalf("frame %d keeps its AUD", i)
			}
		}
	}
	if types := nalTypes(c.video[0].nalus); !strings.Contains(types, "7,8,") || !strings.Contains(types, "5") {
		t.Errorf("first frame NAL types %s, want SPS, PPS and IDR", types)
	}
}

func TestLoadClipShort(t *testing.T) {
	c, err := loadClip(clipH264, clipOpus, 5)
	if err != nil {
		t.Fatal(err)
	}
	// 5 frames = 200 ms = 10 Opus packets of 20 ms.
	if c.frames != 5 || c.period != 200*time.Millisecond || len(c.audio) != 10 {
		t.Fatalf("%d frames, period %v, %d audio packets", c.frames, c.period, len(c.audio))
	}
}

// annexB writes NAL units with 4-byte start codes.
func annexB(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

func TestLoadClipAddsParameterSets(t *testing.T) {
	sps := clipSPS(t)
	pps := []byte{0x68, 0xce, 0x38, 0x80}
	aud := []byte{0x09, 0x10}
	idr, p := []byte{0x65, 0x88, 0x84}, []byte{0x41, 0x9a}
	video := annexB(aud, sps, pps, idr, aud, p, aud, idr) // the 2nd IDR lacks SPS/PPS
	c, err := loadClip(video, clipOpus, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := nalTypes(c.video[2].nalus); got != "7,8,5," {
		t.Fatalf("second IDR NAL types %s, want 7,8,5,", got)
	}
}

func TestLoadClipErrors(t *testing.T) {
	sps := clipSPS(t)
	pps := []byte{0x68, 0xce, 0x38, 0x80}
	aud, idr, p := []byte{0x09, 0x10}, []byte{0x65, 0x88}, []byte{0x41, 0x9a}
	for name, tc := range map[string]struct{ video, audio []byte }{
		"no start code":   {[]byte("nope"), clipOpus},
		"no IDR first":    {annexB(aud, p, aud, sps, pps, idr), clipOpus},
		"IDR without SPS": {annexB(aud, idr), clipOpus},
		"no slice":        {annexB(aud, sps, pps), clipOpus},
		"bad SPS":         {annexB(aud, []byte{0x67}, pps, idr), clipOpus},
		"bad audio":       {clipH264, []byte("OggS")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadClip(tc.video, tc.audio, 0); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func clipSPS(t *testing.T) []byte {
	t.Helper()
	c, err := loadClip(clipH264, clipOpus, 1)
	if err != nil {
		t.Fatal(err)
	}
	return c.sps
}

func nalTypes(au [][]byte) string {
	var b strings.Builder
	for _, n := range au {
		b.WriteString(strconv.Itoa(naluType(n)))
		b.WriteByte(',')
	}
	return b.String()
}
