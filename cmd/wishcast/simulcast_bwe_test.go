package main

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
)

// bandwidthLimit is a viewer's downlink in a test: a token bucket that
// drops the incoming RTP packets past its rate, as a bottleneck link does
// when its queue is full. It sits first among the viewer's interceptors,
// so that what it drops is lost to the TWCC feedback as well.
type bandwidthLimit struct {
	mu     sync.Mutex
	bps    float64 // bits per second; 0: no limit
	tokens float64 // bits
	at     time.Time
}

func (b *bandwidthLimit) set(bps float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bps = bps
}

// pass takes n bytes from the bucket if it holds them.
func (b *bandwidthLimit) pass(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bps == 0 {
		return true
	}
	now := time.Now()
	burst := b.bps / 10 // 100 ms of the rate
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*b.bps)
	b.at = now
	if b.tokens < float64(n*8) {
		return false
	}
	b.tokens -= float64(n * 8)
	return true
}

// NewInterceptor implements interceptor.Factory.
func (b *bandwidthLimit) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &limitInterceptor{b: b}, nil
}

type limitInterceptor struct {
	interceptor.NoOp
	b *bandwidthLimit
}

func (l *limitInterceptor) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(buf []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := r.Read(buf, a)
			if err != nil || l.b.pass(n) {
				return n, attr, err
			}
		}
	})
}

// limitedViewer views name through a downlink of bps (0: unlimited).
func limitedViewer(t *testing.T, ts *testServer, name string, limit *bandwidthLimit) *viewer {
	t.Helper()
	pc, v := newViewerPC(t, limit)
	addRecvonly(t, pc)
	resp, body := do(t, http.MethodPost, ts.URL+"/whep/"+name, offerFor(t, pc), "Content-Type", "application/sdp")
	v.peer = answered(t, pc, ts.URL+"/whep/"+name, resp, body)
	return v
}

// settles waits until the viewer's video has come from layer want for a
// whole second, failing after d, and returns how long it took to get
// there. What the viewer received before the call is passed over.
func settles(t *testing.T, v *viewer, want int, d time.Duration) time.Duration {
	t.Helper()
	drain(v.video)
	start := time.Now()
	deadline := time.After(d)
	var since time.Time
	seen := map[int]int{}
	for {
		select {
		case p := <-v.video:
			l := simLayerOf(p)
			seen[l]++
			switch {
			case l != want:
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			case time.Since(since) >= time.Second:
				return since.Sub(start)
			}
		case <-deadline:
			t.Fatalf("the viewer did not settle on layer %d within %s; packets by layer: %v", want, d, seen)
		}
	}
}

// Viewers behind different bandwidths each get the layer their network
// carries, from the bandwidth estimate of their TWCC feedback and the
// losses they report; a viewer whose bandwidth drops moves down; sequence
// numbers stay continuous (settles checks). One viewer per server keeps
// the machine's load, which the race detector multiplies, out of the
// measure.
func TestSimulcastFollowsBandwidth(t *testing.T) {
	layers := []simLayer{{"q", 320, 180, 300}, {"h", 640, 360, 900}, {"f", 1280, 720, 2000}} // 120k, 360k, 800k
	view := func(t *testing.T, limit *bandwidthLimit) *viewer {
		ts := newTestServer(t)
		startSimulcastPublisher(t, ts, "live/bwe", layers, false)
		eventually(t, 5*time.Second, "three layers live", func() bool {
			live := ts.hub.Live("live/")
			return len(live) == 1 && len(live[0].Tracks) == 4
		})
		return limitedViewer(t, ts, "live/bwe", limit)
	}
	for _, c := range []struct {
		name  string
		bps   float64
		layer int
	}{{"unlimited", 0, 2}, {"600kbps", 600_000, 1}, {"250kbps", 250_000, 0}} {
		t.Run(c.name, func(t *testing.T) {
			v := view(t, &bandwidthLimit{bps: c.bps})
			start := time.Now()
			settles(t, v, c.layer, 15*time.Second)
			t.Logf("on layer %s %s after joining", layers[c.layer].rid, time.Since(start).Round(time.Millisecond))
			// It stays there, or comes back: a move up may be tried and
			// undone, and a machine this loaded (the race detector, other
			// tests) may congest a viewer for a moment.
			time.Sleep(2 * time.Second)
			settles(t, v, c.layer, 12*time.Second)
		})
	}
	t.Run("worsening", func(t *testing.T) {
		limit := &bandwidthLimit{bps: 600_000}
		v := view(t, limit)
		settles(t, v, 1, 15*time.Second)
		limit.set(250_000)
		t.Logf("on q %s after the link went from 600 to 250 kbit/s", settles(t, v, 0, 10*time.Second).Round(time.Millisecond))
	})
}
