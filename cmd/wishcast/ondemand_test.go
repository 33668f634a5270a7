package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/wishcast/wishcast/stream"
)

// testSource is an on-demand source that publishes synthetic VP8 after a
// delay, the way a camera puller or a user's page would.
type testSource struct {
	hub           *stream.Hub
	delay         time.Duration
	never         bool // never publishes
	starts, stops atomic.Int32
	mu            sync.Mutex
	stopCh        map[string]chan struct{}
}

func (s *testSource) Start(_ context.Context, name string) error {
	s.starts.Add(1)
	stop := make(chan struct{})
	s.mu.Lock()
	s.stopCh[name] = stop
	s.mu.Unlock()
	if s.never {
		return nil
	}
	go func() {
		select {
		case <-time.After(s.delay):
		case <-stop:
			return
		}
		pub, err := s.hub.Publish(name, []stream.TrackInfo{{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/VP8", ClockRate: 90000}}})
		if err != nil {
			s.hub.SourceFailed(name, err)
			return
		}
		defer pub.Close()
		tr := pub.Track(stream.Video)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			tr.Write(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n * 1800)}, Payload: vp8Frame(n%25 == 0, n)})
		}
	}()
	return nil
}

func (s *testSource) Stop(name string) {
	s.stops.Add(1)
	s.mu.Lock()
	if ch := s.stopCh[name]; ch != nil {
		close(ch)
		delete(s.stopCh, name)
	}
	s.mu.Unlock()
}

// A WHEP request for an on-demand stream that is not live starts its
// source, waits, and gets 201 with media; the source stops after the grace
// period once the viewer has left.
func TestOnDemandSourceStartsAndStops(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Stream.OnDemandGrace = 200 * time.Millisecond })
	src := &testSource{hub: ts.hub, delay: 300 * time.Millisecond, stopCh: map[string]chan struct{}{}}
	ts.hub.AddSource("devices/", src)
	v := startViewer(t, ts, "devices/lobby")
	if p := next(t, v.video, 10*time.Second); !isVP8Key(p) {
		t.Fatalf("first packet of an on-demand stream is not a keyframe")
	}
	second := startViewer(t, ts, "devices/lobby")
	next(t, second.video, 10*time.Second)
	if n := src.starts.Load(); n != 1 {
		t.Fatalf("source started %d times for two viewers", n)
	}
	for _, p := range []*viewer{v, second} {
		if resp, _ := do(t, http.MethodDelete, ts.URL+p.location, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE: %d", resp.StatusCode)
		}
	}
	eventually(t, 10*time.Second, "the source to be stopped", func() bool { return src.stops.Load() == 1 })
}

// A source that never goes live gives 409 with Retry-After after the
// on-demand timeout, with a message naming the stream.
func TestOnDemandTimeout409(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Stream.OnDemandTimeout = 400 * time.Millisecond })
	src := &testSource{hub: ts.hub, never: true, stopCh: map[string]chan struct{}{}}
	ts.hub.AddSource("devices/", src)
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	start := time.Now()
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/devices/dead", offerFor(t, pc), "Content-Type", "application/sdp")
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "devices/dead") {
		t.Fatalf("got %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("answered after %s; want about the 400ms on-demand timeout", waited)
	}
	if st := ts.sessions.Stats(); st.Active != 0 {
		t.Fatalf("a session was left behind: %+v", st)
	}
}
