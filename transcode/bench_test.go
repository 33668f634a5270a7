package transcode

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkH264ToVP8720p measures one 720p25 H.264 → VP8 transcode on
// this machine: the delay a packet gains (the source frame's first
// packet written to the hub → the transcoded frame's last packet out,
// frames matched by RTP timestamp) and FFmpeg's CPU, as a share of one
// core. It runs about 15 s whatever b.N:
//
//	go test -run '^$' -bench H264ToVP8720p -benchtime 1x ./transcode
func BenchmarkH264ToVP8720p(b *testing.B) {
	hub, m := newTestManager(b, Config{})
	src := h264Source(b, hub, "live/hd", "1280x720")
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
	var c0 time.Duration
	if len(pids) == 1 {
		c0, _ = cpuOf(pids[0])
	}
	f.mu.Lock()
	skip := len(f.ts)
	f.mu.Unlock()
	start := time.Now()
	b.ResetTimer()
	time.Sleep(15 * time.Second)
	b.StopTimer()
	wall := time.Since(start)
	var c1 time.Duration
	if len(pids) == 1 {
		c1, _ = cpuOf(pids[0])
	}

	f.mu.Lock()
	outTS, outAt := slices.Clone(f.ts[skip:]), slices.Clone(f.at[skip:])
	f.mu.Unlock()
	src.mu.Lock()
	in := make(map[uint32]time.Time, len(src.written))
	for ts, at := range src.written {
		in[ts] = at
	}
	src.mu.Unlock()
	// FFmpeg keeps the source's timing: out = in + a constant offset.
	var inTS []uint32
	for ts := range in {
		inTS = append(inTS, ts)
	}
	var offset uint32
	// Offset candidates: align each of the first output frames with the
	// input frame that came just before it.
	counts := map[uint32]int{}
	for k, o := range outTS[:min(30, len(outTS))] {
		var cand uint32
		var bestD time.Duration = 1 << 62
		for _, i := range inTS {
			if d := outAt[k].Sub(in[i]); d > 0 && d < bestD {
				bestD, cand = d, o-i
			}
		}
		counts[cand]++
	}
	for o, n := range counts {
		if n > counts[offset] {
			offset = o
		}
	}
	var delays []time.Duration
	for k, o := range outTS {
		if at, ok := in[o-offset]; ok {
			delays = append(delays, outAt[k].Sub(at))
		}
	}
	if len(delays) < 100 {
		b.Fatalf("matched %d of %d frames", len(delays), len(outTS))
	}
	slices.Sort(delays)
	p50, p95 := delays[len(delays)/2], delays[len(delays)*95/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-delay-p50")
	b.ReportMetric(float64(p95.Microseconds())/1000, "ms-delay-p95")
	b.ReportMetric(float64(delays[0].Microseconds())/1000, "ms-delay-min")
	b.ReportMetric(float64(len(outTS))/wall.Seconds(), "fps-out")
	b.ReportMetric((c1-c0).Seconds()*1000/float64(len(outTS)), "ms-cpu-per-frame")
	b.ReportMetric((c1-c0).Seconds()/wall.Seconds()*100, "%cpu-of-one-core")
	b.Logf("720p25 H.264→VP8: %d frames matched, delay min %s p50 %s p95 %s, %.1f fps out, FFmpeg CPU %.0f%% of one core, %.1f ms per frame",
		len(delays), delays[0], p50, p95, float64(len(outTS))/wall.Seconds(), (c1-c0).Seconds()/wall.Seconds()*100,
		(c1-c0).Seconds()*1000/float64(len(outTS)))
}
