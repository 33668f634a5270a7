package democam

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
)

func TestPlayDemo(t *testing.T) {
	checkGoroutines(t)
	s := startServer(t, Options{})
	if _, port, _ := net.SplitHostPort(s.Addr()); port == "0" || port == "" {
		t.Fatalf("Addr() = %q, want the real port", s.Addr())
	}
	if want := "rtsp://" + s.Addr() + "/demo"; s.URL() != want {
		t.Fatalf("URL() = %q, want %q", s.URL(), want)
	}

	r, _ := play(t, s.URL(), gortsplib.TransportTCP)
	if r.h264 == nil || r.h264.SPS == nil || r.h264.PPS == nil || r.h264.PacketizationMode != 1 {
		t.Fatalf("SDP H.264 format %+v, want sprop-parameter-sets and mode 1", r.h264)
	}
	var opus *format.Opus
	if r.desc.FindFormat(&opus) == nil || opus.ChannelCount != 1 {
		t.Fatalf("SDP has no mono Opus: %+v", r.desc.Medias)
	}
	waitFor(t, 5*time.Second, "5 access units and 10 Opus packets", func() bool {
		aus, _, audio := r.counts()
		return aus >= 5 && audio >= 10
	})

	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.aus[0]
	if !hasNALU(first, naluIDR) || !hasNALU(first, naluSPS) || !hasNALU(first, naluPPS) {
		t.Errorf("first access unit has NAL types %s, want an IDR with SPS and PPS in-band", nalTypes(first))
	}
	for i, au := range r.aus {
		if au == nil {
			t.Errorf("access unit %d did not decode", i)
		}
	}
}

func TestPlayDemoLoops(t *testing.T) {
	checkGoroutines(t)
	const frames = 5 // a 200 ms loop, IDR first
	s := startServer(t, Options{clipFrames: frames})
	r, _ := play(t, s.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "three loops", func() bool {
		aus, _, audio := r.counts()
		return aus >= 3*frames+1 && audio >= 31
	})

	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i < len(r.videoTS); i++ {
		if d := r.videoTS[i] - r.videoTS[i-1]; d != 3600 {
			t.Fatalf("video access unit %d: timestamp +%d (int32 %d), want +3600", i, d, int32(d))
		}
	}
	for i := 1; i < len(r.audioTS); i++ {
		if d := r.audioTS[i] - r.audioTS[i-1]; d != 960 {
			t.Fatalf("audio packet %d: timestamp +%d (int32 %d), want +960", i, d, int32(d))
		}
	}
	for i, au := range r.aus {
		if idr := hasNALU(au, naluIDR); idr != (i%frames == 0) {
			t.Errorf("access unit %d: NAL types %s", i, nalTypes(au))
		}
	}
}

func TestTwoClients(t *testing.T) {
	checkGoroutines(t)
	s := startServer(t, Options{clipFrames: 10}) // an IDR every 400 ms
	r1, _ := play(t, s.URL(), gortsplib.TransportTCP)
	r2, _ := play(t, s.URL(), gortsplib.TransportTCP)
	for i, r := range []*reader{r1, r2} {
		waitFor(t, 5*time.Second, "both clients to receive", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			idr := false
			for _, au := range r.aus {
				idr = idr || hasNALU(au, naluIDR)
			}
			return idr && r.audio >= 5
		})
		if aus, _, _ := r.counts(); aus == 0 {
			t.Errorf("client %d got nothing", i)
		}
	}
}

func TestPlayUDP(t *testing.T) {
	checkGoroutines(t)
	s := startServer(t, Options{UDP: true, Path: "/cam/demo/"})
	if !strings.HasSuffix(s.URL(), "/cam/demo") {
		t.Fatalf("URL() = %q", s.URL())
	}
	r, _ := play(t, s.URL(), gortsplib.TransportUDP)
	waitFor(t, 5*time.Second, "packets over UDP", func() bool {
		aus, _, audio := r.counts()
		return aus >= 1 && audio >= 5
	})
}

func TestNotFoundAndForbidden(t *testing.T) {
	checkGoroutines(t)
	s := startServer(t, Options{})
	_, _, err := tryPlay(s.PathURL("nobody"), gortsplib.TransportTCP)
	if got := statusCode(err); got != base.StatusNotFound {
		t.Errorf("PLAY of an unpublished path: %v, want 404", err)
	}
	c := &gortsplib.Client{Transport: ptr(gortsplib.TransportTCP)}
	err = c.StartRecording(s.URL(), testH264Description())
	if err == nil {
		c.Close()
	}
	if got := statusCode(err); got != base.StatusForbidden {
		t.Errorf("RECORD to the demo path: %v, want 403", err)
	}
}

func TestPlayerStopsWhenIdle(t *testing.T) {
	checkGoroutines(t)
	s := startServer(t, Options{clipFrames: 5, idleTimeout: 100 * time.Millisecond})
	r, c := play(t, s.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "a frame", func() bool { aus, _, _ := r.counts(); return aus > 0 })
	c.Close()
	waitFor(t, 5*time.Second, "the player to stop", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.playing
	})

	// The next reader restarts it: IDR first, timestamps after the old ones.
	r2, _ := play(t, s.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "a frame after the restart", func() bool { aus, _, _ := r2.counts(); return aus > 0 })
	r.mu.Lock()
	last := r.videoTS[len(r.videoTS)-1]
	r.mu.Unlock()
	r2.mu.Lock()
	defer r2.mu.Unlock()
	if !hasNALU(r2.aus[0], naluIDR) {
		t.Errorf("first access unit after restart: %s", nalTypes(r2.aus[0]))
	}
	if d := int32(r2.videoTS[0] - last); d <= 0 {
		t.Errorf("timestamp went back by %d ticks after a restart", -d)
	}
}

func TestLifecycle(t *testing.T) {
	checkGoroutines(t)
	if _, err := New(Options{Addr: "nonsense"}); err == nil {
		t.Error("New accepted an address without a port")
	}

	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != DefaultAddr || s.URL() != "rtsp://127.0.0.1:8554/demo" {
		t.Errorf("before Start: Addr %q URL %q", s.Addr(), s.URL())
	}
	s.Close() // before Start
	s.Close()
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}

	s = startServer(t, Options{Addr: ":0"})
	if !strings.HasPrefix(s.URL(), "rtsp://127.0.0.1:") {
		t.Errorf("URL() = %q for an unspecified host", s.URL())
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v", err)
	}
	busy, err := New(Options{Addr: s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.Start(); err == nil {
		busy.Close()
		t.Error("Start on a busy port succeeded")
	}
	busy.Close()

	// Close with a reader playing ends everything.
	_, c := play(t, s.URL(), gortsplib.TransportTCP)
	s.Close()
	s.Close()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the client was not disconnected by Close")
	}
}
