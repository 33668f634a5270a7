package rtsp

import (
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
)

// BenchmarkH264Repacketize measures the camera path's own work per
// incoming packet: a 2 Mbit/s-like stream at 25 fps (a 60 KB keyframe
// every 50 frames, 8 KB otherwise) from 1400-byte camera packets to
// 1200-byte WebRTC packets.
func BenchmarkH264Repacketize(b *testing.B) {
	var aus [][][]byte
	for i := range 50 {
		if i == 0 {
			aus = append(aus, [][]byte{idr(60000)})
		} else {
			aus = append(aus, [][]byte{nonIDR(8000)})
		}
	}
	in := cameraPackets(b, aus, 0)
	r, err := newH264Repacketizer(&format.H264{PayloadTyp: 96, SPS: testSPS, PPS: testPPS, PacketizationMode: 1})
	if err != nil {
		b.Fatal(err)
	}
	out := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := *in[i%len(in)]
		p.Timestamp += uint32(i/len(in)) * 50 * 3600
		pkts, _ := r.packet(&p)
		out += len(pkts)
	}
	b.ReportMetric(float64(out)/float64(b.N), "out/op")
}
