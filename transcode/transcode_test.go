package transcode

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// newTestManager returns a hub with a transcode manager as its source of
// transcode/* names.
func newTestManager(t testing.TB, cfg Config) (*stream.Hub, *Manager) {
	t.Helper()
	hub := stream.NewHub(stream.Config{}, nil)
	m := New(cfg, hub, nil)
	hub.AddSource(Prefix, m)
	t.Cleanup(func() {
		hub.Close()
		m.Close()
	})
	return hub, m
}

// An H.264 stream is transcoded to VP8 by one FFmpeg shared by its
// viewers: they get VP8 keyframes and frames; FFmpeg ends after the grace
// once the last leaves; a killed FFmpeg is restarted while the viewers
// stay, and frames resume.
func TestH264ToVP8Shared(t *testing.T) {
	hub, m := newTestManager(t, Config{Grace: 300 * time.Millisecond, RestartMin: 100 * time.Millisecond})
	h264Source(t, hub, "live/cam", "320x240")
	name, ok := m.Name("live/cam", stream.Codec{MimeType: "video/H264"}, VP8)
	if !ok || name != "transcode/vp8/live/cam" {
		t.Fatalf("Name: %q %v", name, ok)
	}
	var leases []*stream.Lease
	var sinks []*frames
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		l, err := hub.Acquire(ctx, name)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
		f := newFrames(isVP8Key)
		l.Tracks()[0].Subscribe(f)
		sinks = append(sinks, f)
	}
	if c := l0(leases).Tracks()[0].Codec(); c.MimeType != "video/VP8" {
		t.Fatalf("transcoded codec %v", c)
	}
	for i, f := range sinks {
		waitFor(t, 10*time.Second, "VP8 frames", func() bool { n, k := f.count(); return n >= 20 && k >= 1 })
		if !isVP8Key(f.first) {
			t.Errorf("viewer %d: first packet is not a VP8 keyframe start: % x", i, f.first[:min(8, len(f.first))])
		}
	}
	// A viewer joining the running transcode starts at once, from its
	// keyframe cache.
	joined := time.Now()
	late := newFrames(isVP8Key)
	l0(leases).Tracks()[0].Subscribe(late)
	waitFor(t, 2*time.Second, "a joining viewer's first packet", func() bool { late.mu.Lock(); defer late.mu.Unlock(); return late.packets > 0 })
	if d := time.Since(joined); !isVP8Key(late.first) || d > 500*time.Millisecond {
		t.Fatalf("joining viewer: first packet after %s, keyframe %v; want a cached keyframe at once", d, isVP8Key(late.first))
	}
	if st := m.Stats(); st.Running != 1 || st.Started != 1 || len(m.PIDs()) != 1 {
		t.Fatalf("three viewers: stats %+v, pids %v; want one FFmpeg", st, m.PIDs())
	}

	// SIGKILL mid-stream: the viewers keep their subscriptions and frames resume.
	pid := m.PIDs()[0]
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	before, _ := sinks[0].count()
	waitFor(t, 10*time.Second, "FFmpeg to be restarted", func() bool { p := m.PIDs(); return len(p) == 1 && p[0] != pid })
	waitFor(t, 10*time.Second, "frames after the restart", func() bool { n, _ := sinks[0].count(); return n >= before+25 })
	if st := m.Stats(); st.Restarts < 1 {
		t.Fatalf("stats after kill %+v", st)
	}
	checkContinuous(t, sinks[0])

	for _, l := range leases {
		l.Release()
	}
	waitFor(t, 5*time.Second, "FFmpeg to end after the last viewer", func() bool { return len(m.PIDs()) == 0 && m.Stats().Running == 0 })
	if st := m.Stats(); st.CPUSeconds <= 0 {
		t.Fatalf("no CPU accounted: %+v", st)
	}
}

func l0(l []*stream.Lease) *stream.Lease { return l[0] }

// checkContinuous fails if the viewer's timestamps went backwards or
// jumped by more than a few seconds (a restart must look like a freeze).
func checkContinuous(t *testing.T, f *frames) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i < len(f.ts); i++ {
		d := int32(f.ts[i] - f.ts[i-1])
		if d < 0 || d > 5*90000 {
			t.Fatalf("timestamp step %d at frame %d", d, i)
		}
	}
}

// Without FFmpeg, and past the limit, a transcode is refused with a
// reason naming what is missing.
func TestUnavailable(t *testing.T) {
	_, m := newTestManager(t, Config{FFmpeg: "/nonexistent/ffmpeg"})
	err := m.Check("transcode/vp8/live/cam")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "/nonexistent/ffmpeg") || !strings.Contains(err.Error(), "FFmpeg") {
		t.Fatalf("Check without FFmpeg: %v", err)
	}
	needFFmpeg(t)
	hub, m := newTestManager(t, Config{MaxTranscodes: 1})
	h264Source(t, hub, "live/a", "160x120")
	h264Source(t, hub, "live/b", "160x120")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := hub.Acquire(ctx, "transcode/vp8/live/a")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := m.Check("transcode/vp8/live/a"); err != nil {
		t.Fatalf("a running transcode: %v", err)
	}
	if err := m.Check("transcode/vp8/live/b"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "limit of 1") {
		t.Fatalf("second transcode over a limit of 1: %v", err)
	}
}
