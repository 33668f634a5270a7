package transcode

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// testLog returns a logger writing to the test's log at DEBUG.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// The first VP8 keyframe of an H.264 -> VP8 transcode comes soon after
// the first viewer asks for it, even in the middle of the source's GOP
// (an IDR every 4 s here; 2 s on the demo camera and many IP cameras):
// FFmpeg starts from the source's cached keyframe instead of waiting for
// the next one.
func TestFirstFrameSoon(t *testing.T) {
	hub := stream.NewHub(stream.Config{}, nil)
	m := New(Config{}, hub, testLog(t))
	hub.AddSource(Prefix, m)
	t.Cleanup(func() {
		hub.Close()
		m.Close()
	})
	src := startSource(t, hub, "live/cam", stream.Video,
		stream.Codec{MimeType: "video/H264", ClockRate: 90000, Fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01e"},
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "100", "-keyint_min", "100", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-profile:v", "baseline")
	// Wait for a source keyframe, then a second more: the next one is
	// three seconds away.
	probe := newFrames(func(p []byte) bool { return stream.KeyframeStart("video/H264", p) })
	sub := src.track.Subscribe(probe)
	waitFor(t, 10*time.Second, "a source keyframe", func() bool { _, k := probe.count(); return k > 0 })
	sub.Close()
	time.Sleep(time.Second)

	asked := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := hub.Acquire(ctx, "transcode/vp8/live/cam")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	live := time.Since(asked)
	f := newFrames(isVP8Key)
	l.Tracks()[0].Subscribe(f)
	waitFor(t, 10*time.Second, "a VP8 keyframe", func() bool { _, k := f.count(); return k > 0 })
	first := time.Since(asked)
	t.Logf("asked -> transcode live %s, -> first VP8 keyframe at a viewer %s", live.Round(time.Millisecond), first.Round(time.Millisecond))
	// Budget: FFmpeg's start (100-300 ms here), a frame's decode and
	// encode; generous for -race and a loaded machine, yet well under the
	// three seconds until the source's next keyframe.
	if first > 1500*time.Millisecond {
		t.Errorf("first VP8 keyframe %s after the viewer asked; want well under the source's GOP", first)
	}
}

// A viewer's keyframe request on a transcoded track is answered within a
// few frames, long before the next periodic keyframe, and the jump in
// time that asks FFmpeg for it does not show in the track's timestamps:
// VP8 (libvpx) from H.264, and H.264 (libx264) from H.265.
func TestKeyframeOnRequest(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		keyOf        func([]byte) bool
		source       func(t *testing.T, hub *stream.Hub)
	}{
		{"H264ToVP8", "vp8", isVP8Key, func(t *testing.T, hub *stream.Hub) { h264Source(t, hub, "live/cam", "320x240") }},
		{"H265ToH264", "h264", func(p []byte) bool { return stream.KeyframeStart("video/H264", p) }, func(t *testing.T, hub *stream.Hub) {
			startSource(t, hub, "live/cam", stream.Video, stream.Codec{MimeType: "video/H265", ClockRate: 90000},
				"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
				"-x265-params", "keyint=25:repeat-headers=1:log-level=error", "-pix_fmt", "yuv420p")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := stream.NewHub(stream.Config{}, nil)
			m := New(Config{}, hub, testLog(t))
			hub.AddSource(Prefix, m)
			t.Cleanup(func() {
				hub.Close()
				m.Close()
			})
			tc.source(t, hub)
			keyframeOnRequest(t, hub, "transcode/"+tc.target+"/live/cam", tc.keyOf)
		})
	}
}

func keyframeOnRequest(t *testing.T, hub *stream.Hub, name string, keyOf func([]byte) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := hub.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	f := newFrames(keyOf)
	sub := l.Tracks()[0].Subscribe(f)
	// A subscription that joined before the first keyframe was cached
	// asked for one itself: let the hub's coalescing of requests pass.
	time.Sleep(600 * time.Millisecond)
	var asked []int // frame indexes of the requested keyframes
	for i := range 3 {
		// Ask just after a keyframe: the next periodic one is about
		// keyframeEvery away.
		_, k0 := f.count()
		waitFor(t, 5*time.Second, "a keyframe", func() bool { _, k := f.count(); return k > k0 })
		time.Sleep(200 * time.Millisecond)
		_, k1 := f.count()
		at := time.Now()
		sub.RequestKeyframe()
		waitFor(t, 3*time.Second, "the requested keyframe", func() bool { _, k := f.count(); return k > k1 })
		took := time.Since(at)
		t.Logf("request %d: keyframe after %s", i, took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("request %d: keyframe after %s; want well before the periodic one (%s)", i, took, keyframeEvery)
		}
		f.mu.Lock()
		asked = append(asked, len(f.ts)) // the keyframe's frame ends next
		f.mu.Unlock()
		time.Sleep(600 * time.Millisecond) // past the hub's coalescing of requests
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i < len(f.ts); i++ {
		if d := int32(f.ts[i] - f.ts[i-1]); d <= 0 || d > 90000/2 {
			t.Fatalf("timestamp step %d (%.3f s) at frame %d of %d", d, float64(d)/90000, i, len(f.ts))
		}
	}
	var sizes []string
	for i, k := range f.key {
		if k {
			sizes = append(sizes, fmt.Sprintf("%d:%dB", i, f.size[i]))
		}
	}
	t.Logf("keyframes (frame:size): %v; requested ones near frames %v", sizes, asked)
}
