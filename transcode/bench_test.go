package transcode

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkH264ToVP8720p measures one 720p25 H.264 → VP8 transcode on
// this machine: the delay it adds (a source frame's first packet written
// to the hub → the transcoded frame's last packet out of it) and FFmpeg's
// CPU. Frames are told apart without trusting FFmpeg's timestamps: every
// 2 s the source skips to its next keyframe, and the first transcoded
// frame after the jump is that keyframe. It runs about 15 s whatever b.N:
//
//	go test -run '^$' -bench H264ToVP8 -benchtime 1x ./transcode
func BenchmarkH264ToVP8720p(b *testing.B) { benchTranscode(b, "1280x720") }

// BenchmarkH264ToVP8240p is BenchmarkH264ToVP8720p at 320x240: the delay
// of the pipeline itself where the machine has CPU to spare.
func BenchmarkH264ToVP8240p(b *testing.B) { benchTranscode(b, "320x240") }

func benchTranscode(b *testing.B, size string) {
	hub, m := newTestManager(b, Config{})
	src := h264Source(b, hub, "live/hd", size)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := hub.Acquire(ctx, "transcode/vp8/live/hd")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	f := newFrames(isVP8Key)
	l.Tracks()[0].Subscribe(f)
	waitFor(b, 10*time.Second, "VP8 frames", func() bool { n, _ := f.count(); return n > 30 })
	pids := m.PIDs()
	if len(pids) != 1 {
		b.Fatalf("FFmpeg processes %v", pids)
	}
	c0, _ := cpuOf(pids[0])
	f.mu.Lock()
	frames0 := len(f.ts)
	f.mu.Unlock()
	start := time.Now()
	b.ResetTimer()
	var delays []time.Duration
	for time.Since(start) < 15*time.Second {
		time.Sleep(1200 * time.Millisecond)
		f.mu.Lock()
		from := len(f.ts)
		f.mu.Unlock()
		src.mu.Lock()
		src.skip = true
		src.mu.Unlock()
		var r resume
		select {
		case r = <-src.resumed:
		case <-time.After(3 * time.Second):
			b.Fatal("the source did not resume at a keyframe")
		}
		// The transcoded frame after the jump (a gap of more than 3
		// frames in its timestamps) is the keyframe resumed at. A skip
		// that hit a keyframe at once leaves no jump: no sample.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			f.mu.Lock()
			found := false
			for k := max(from, 1); k < len(f.ts) && !found; k++ {
				if f.ts[k]-f.ts[k-1] > 3*3600 {
					delays = append(delays, f.at[k].Sub(r.at))
					found = true
				}
			}
			f.mu.Unlock()
			if found {
				break
			}
		}
	}
	b.StopTimer()

	c1, _ := cpuOf(pids[0])
	f.mu.Lock()
	frames := len(f.ts) - frames0
	f.mu.Unlock()
	// The skips leave frames out: CPU is per frame transcoded, and its
	// share of a core is that at the source's 25 frames a second.
	perFrame := (c1 - c0).Seconds() * 1000 / float64(frames)
	cpu := perFrame * 25 / 10
	b.ReportMetric(perFrame, "ms-cpu-per-frame")
	b.ReportMetric(cpu, "%core-at-25fps")
	if len(delays) == 0 {
		// FFmpeg fell behind by more than the wait: no CPU to spare.
		b.Logf("%s at 25 fps, H.264→VP8: no delay sample (FFmpeg fell behind); FFmpeg CPU %.1f ms per frame, %.0f%% of one core at 25 fps",
			size, perFrame, cpu)
		return
	}
	slices.Sort(delays)
	p50 := delays[len(delays)/2]
	b.ReportMetric(float64(delays[0].Microseconds())/1000, "ms-delay-min")
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-delay-p50")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "ms-delay-max")
	b.Logf("%s at 25 fps, H.264→VP8: delay over %d samples min %s p50 %s max %s; FFmpeg CPU %.1f ms per frame, %.0f%% of one core at 25 fps",
		size, len(delays), delays[0].Round(time.Millisecond), p50.Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond),
		perFrame, cpu)
}
