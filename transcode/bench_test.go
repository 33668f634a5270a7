package transcode

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// BenchmarkH264ToVP8720p measures one 720p25 H.264 → VP8 transcode on
// this machine: the delay it adds (a source frame's first packet written
// to the hub → the transcoded frame's last packet out of it) and FFmpeg's
// CPU. Frames are told apart without trusting FFmpeg's timestamps: every
// 2 s the source skips to its next keyframe, and the first transcoded
// frame after the jump is that keyframe. It runs about 15 s whatever b.N:
//
//	go test -run '^$' -bench H264ToVP8 -benchtime 1x ./transcode
func BenchmarkH264ToVP8720p(b *testing.B) { benchTranscode(b, "1280x720", benchH264ToVP8) }

// BenchmarkH264ToVP8240p is BenchmarkH264ToVP8720p at 320x240: the delay
// of the pipeline itself where the machine has CPU to spare.
func BenchmarkH264ToVP8240p(b *testing.B) { benchTranscode(b, "320x240", benchH264ToVP8) }

// BenchmarkH265ToH264720p is BenchmarkH264ToVP8720p for an H.265 camera
// watched by a browser with H.264 but no H.265 (libx264 ultrafast,
// zerolatency). Its source is a clip encoded once by libx265 and looped,
// so that a live H.265 encoder does not share the CPU with the transcode:
//
//	go test -run '^$' -bench H265ToH264 -benchtime 1x ./transcode
func BenchmarkH265ToH264720p(b *testing.B) { benchTranscode(b, "1280x720", benchH265ToH264) }

// benchCase is one kind of transcode to measure.
type benchCase struct {
	what   string // for the log: "H.264→VP8"
	target string // the transcode's segment: "vp8"
	keyOf  func([]byte) bool
	source func(b *testing.B, hub *stream.Hub, name, size string) *source
}

var (
	benchH264ToVP8 = benchCase{what: "H.264→VP8", target: "vp8", keyOf: isVP8Key,
		source: func(b *testing.B, hub *stream.Hub, name, size string) *source { return h264Source(b, hub, name, size) }}
	benchH265ToH264 = benchCase{what: "H.265→H.264", target: "h264",
		keyOf:  func(p []byte) bool { return stream.KeyframeStart("video/H264", p) },
		source: h265ClipSource}
)

// h265ClipSource publishes a looped H.265 clip (25 fps, an IRAP a second,
// parameter sets in-band) of size, encoded once before the measurement.
func h265ClipSource(b *testing.B, hub *stream.Hub, name, size string) *source {
	b.Helper()
	bin := needFFmpeg(b)
	clip := filepath.Join(b.TempDir(), "clip.ts")
	out, err := exec.Command(bin, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size="+size+":rate=25",
		"-t", "8", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:repeat-headers=1:log-level=error",
		"-pix_fmt", "yuv420p", clip).CombinedOutput()
	if err != nil {
		b.Skipf("FFmpeg cannot encode H.265 here: %v %s", err, out)
	}
	return startSource(b, hub, name, stream.Video, stream.Codec{MimeType: "video/H265", ClockRate: 90000},
		"-stream_loop", "-1", "-i", clip, "-c:v", "copy")
}

func benchTranscode(b *testing.B, size string, bc benchCase) {
	hub, m := newTestManager(b, Config{})
	src := bc.source(b, hub, "live/hd", size)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := hub.Acquire(ctx, "transcode/"+bc.target+"/live/hd")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	f := newFrames(bc.keyOf)
	l.Tracks()[0].Subscribe(f)
	waitFor(b, 10*time.Second, "transcoded frames", func() bool { n, _ := f.count(); return n > 30 })
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
		b.Logf("%s at 25 fps, %s: no delay sample (FFmpeg fell behind); FFmpeg CPU %.1f ms per frame, %.0f%% of one core at 25 fps",
			size, bc.what, perFrame, cpu)
		return
	}
	slices.Sort(delays)
	p50 := delays[len(delays)/2]
	b.ReportMetric(float64(delays[0].Microseconds())/1000, "ms-delay-min")
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-delay-p50")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "ms-delay-max")
	b.Logf("%s at 25 fps, %s: delay over %d samples min %s p50 %s max %s; FFmpeg CPU %.1f ms per frame, %.0f%% of one core at 25 fps",
		size, bc.what, len(delays), delays[0].Round(time.Millisecond), p50.Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond),
		perFrame, cpu)
}
