package democam

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"
)

// fakeWriter is a packetWriter that records packets, or fails.
type fakeWriter struct {
	mu   sync.Mutex
	pkts map[*description.Media][]*rtp.Packet
	fail bool
}

func (w *fakeWriter) WritePacketRTP(m *description.Media, pkt *rtp.Packet) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return errors.New("closed")
	}
	if w.pkts == nil {
		w.pkts = map[*description.Media][]*rtp.Packet{}
	}
	w.pkts[m] = append(w.pkts[m], pkt)
	return nil
}

func newTestPlayer(t *testing.T, frames int) (*player, *fakeWriter, *description.Session) {
	t.Helper()
	c, err := loadClip(clipH264, clipOpus, frames)
	if err != nil {
		t.Fatal(err)
	}
	desc := demoDescription(c)
	w := &fakeWriter{}
	p, err := newPlayer(c, desc, w)
	if err != nil {
		t.Fatal(err)
	}
	return p, w, desc
}

// checkTimestamps checks that timestamps never decrease (modulo 2^32),
// that they grow by step between units and that the sequence numbers are
// consecutive. It returns how many distinct timestamps there were.
func checkTimestamps(t *testing.T, name string, pkts []*rtp.Packet, step uint32) int {
	t.Helper()
	units := 1
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.SequenceNumber != a.SequenceNumber+1 {
			t.Fatalf("%s packet %d: sequence %d after %d", name, i, b.SequenceNumber, a.SequenceNumber)
		}
		d := b.Timestamp - a.Timestamp
		if d == 0 {
			continue
		}
		units++
		if d != step {
			t.Fatalf("%s packet %d: timestamp +%d (as int32 %d), want +%d", name, i, d, int32(d), step)
		}
	}
	return units
}

func TestPlayerLoopsWithContinuousTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		frames    int           // clip frames, 0 for all
		loop      int           // frames in a loop
		gop       int           // frames between IDRs
		run       time.Duration // how long to play
		wantVideo int
		wantAudio int
	}{
		// Frames every 40 ms and Opus packets every 20 ms, both from 0 to
		// run inclusive.
		{"5 frames", 5, 5, 5, 640 * time.Millisecond, 17, 33},
		{"whole clip", 0, 200, 50, 8520 * time.Millisecond, 214, 427},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, w, desc := newTestPlayer(t, tc.frames)
			t0 := time.Unix(1000, 0)
			p.resume(t0)
			if got := p.next(); !got.Equal(t0.Add(startDelay)) {
				t.Fatalf("first unit due %v, want %v", got, t0.Add(startDelay))
			}
			end := t0.Add(startDelay + tc.run)
			for now := t0; !now.After(end); now = now.Add(10 * time.Millisecond) {
				p.step(now)
			}
			video, audio := w.pkts[desc.Medias[0]], w.pkts[desc.Medias[1]]
			if n := checkTimestamps(t, "video", video, 3600); n != tc.wantVideo {
				t.Errorf("%d video frames, want %d", n, tc.wantVideo)
			}
			if n := checkTimestamps(t, "audio", audio, 960); n != tc.wantAudio {
				t.Errorf("%d audio packets, want %d", n, tc.wantAudio)
			}

			// IDRs come where the clip has them, with SPS and PPS in-band,
			// and the loop starts with one.
			dec := &rtph264.Decoder{PacketizationMode: 1}
			if err := dec.Init(); err != nil {
				t.Fatal(err)
			}
			i := 0
			for _, pkt := range video {
				au, err := dec.Decode(pkt)
				if err != nil {
					continue
				}
				types := nalTypes(au)
				if idr := strings.Contains(types, "5,"); idr != (i%tc.loop%tc.gop == 0) ||
					idr && !strings.HasPrefix(types, "7,8,") {
					t.Errorf("access unit %d: NAL types %s", i, types)
				}
				i++
			}
			if i != tc.wantVideo {
				t.Errorf("%d access units decoded, want %d", i, tc.wantVideo)
			}
		})
	}
}

func TestPlayerResumeNeverGoesBack(t *testing.T) {
	p, w, desc := newTestPlayer(t, 50) // a 2 s loop
	t0 := time.Unix(1000, 0)
	p.resume(t0)
	p.step(t0.Add(startDelay + 500*time.Millisecond)) // stop in the middle of loop 0
	// A quick restart goes on with loop 1; a late one skips the loops the
	// wall clock has passed.
	t1 := t0.Add(time.Second)
	p.resume(t1)
	p.step(t1.Add(startDelay))
	t2 := t1.Add(9 * time.Second)
	p.resume(t2)
	p.step(t2.Add(startDelay))

	video := w.pkts[desc.Medias[0]]
	var stamps []uint32
	for _, pkt := range video {
		if len(stamps) == 0 || stamps[len(stamps)-1] != pkt.Timestamp {
			stamps = append(stamps, pkt.Timestamp)
		}
	}
	if len(stamps) != 15 { // frames 0..12 (0..480 ms), then one at each restart
		t.Fatalf("%d frames, want 15", len(stamps))
	}
	base := stamps[0]
	if got := stamps[12] - base; got != 12*3600 {
		t.Errorf("frame 12 at +%d", got)
	}
	if got := stamps[13] - base; got != 180000 { // loop 1 starts 2 s in
		t.Errorf("after a quick restart: +%d ticks, want 180000", got)
	}
	// The late restart comes 10.95 s after loop 0 began on the clock the
	// first restart set: the next loop boundary is loop 6, at 12 s.
	if got := stamps[14] - base; got != 6*180000 {
		t.Errorf("after a late restart: +%d ticks, want %d", got, 6*180000)
	}
}

func TestPlayerCatchesUpAndResyncs(t *testing.T) {
	p, w, desc := newTestPlayer(t, 0)
	t0 := time.Unix(1000, 0)
	p.resume(t0)
	// 500 ms late: every due unit is sent at once.
	p.step(t0.Add(startDelay + 500*time.Millisecond))
	if n := checkTimestamps(t, "video", w.pkts[desc.Medias[0]], 3600); n != 13 {
		t.Fatalf("%d frames after a 500 ms stall, want 13", n)
	}
	// A 5 s stall is not caught up: the player starts a new loop.
	now := t0.Add(6 * time.Second)
	next := p.step(now)
	if !next.Equal(now.Add(startDelay)) {
		t.Fatalf("next unit due %v after now, want %v", next.Sub(now), startDelay)
	}
	if p.tracks[0].loop != 1 || p.tracks[0].idx != 0 {
		t.Fatalf("loop %d after resync, want 1", p.tracks[0].loop)
	}
}

func TestPlayerCountsWriteErrors(t *testing.T) {
	p, w, _ := newTestPlayer(t, 5)
	w.fail = true
	t0 := time.Unix(1000, 0)
	p.resume(t0)
	p.step(t0.Add(startDelay))
	if p.writeErrs == 0 || p.written != 0 {
		t.Fatalf("written %d, errors %d", p.written, p.writeErrs)
	}
}
