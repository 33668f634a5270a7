package stream

import (
	"sync"
	"testing"
	"time"
)

// Totals count what publishers wrote and what reached subscribers, and
// keep counting what ended subscriptions and streams did: they never go
// down.
func TestTotalsOnlyGrow(t *testing.T) {
	h := newTestHub(t, Config{})
	pub, err := h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatal(err)
	}
	tr := pub.Track(Audio)
	s1, s2 := &recSink{}, &recSink{}
	sub1, sub2 := tr.Subscribe(s1), tr.Subscribe(s2)
	for i := range 10 {
		tr.Write(audioPkt(uint16(i), uint32(i*960)))
	}
	waitFor(t, "both subscribers to get 10 packets", func() bool { return s1.n.Load() == 10 && s2.n.Load() == 10 })
	want := Totals{PacketsIn: 10, BytesIn: 80, PacketsOut: 20, BytesOut: 160}
	if got := h.Totals(); got != want {
		t.Fatalf("totals %+v, want %+v", got, want)
	}
	sub1.Close()
	if got := h.Totals(); got != want {
		t.Fatalf("after a subscription ended: %+v, want %+v", got, want)
	}
	tr.Write(audioPkt(10, 9600))
	waitFor(t, "the second subscriber to get the 11th packet", func() bool { return s2.n.Load() == 11 })
	sub2.Close()
	pub.Close()
	h.Close() // every track is dropped
	want = Totals{PacketsIn: 11, BytesIn: 88, PacketsOut: 21, BytesOut: 168}
	if got := h.Totals(); got != want {
		t.Fatalf("after the hub closed: %+v, want %+v", got, want)
	}
}

// peakObserver records StreamEnded calls.
type peakObserver struct {
	mu    sync.Mutex
	ended map[string]int
}

func (o *peakObserver) OnDemandStarted(string)             {}
func (o *peakObserver) OnDemandLive(string, time.Duration) {}
func (o *peakObserver) OnDemandFailed(string, error)       {}
func (o *peakObserver) OnDemandTimedOut(string)            {}
func (o *peakObserver) StreamEnded(name string, peakViewers int) {
	o.mu.Lock()
	o.ended[name] = peakViewers
	o.mu.Unlock()
}

// When a publisher leaves, the observer hears the most viewers its stream
// had at once; the count starts again for the next publisher.
func TestStreamEndedPeakViewers(t *testing.T) {
	h := newTestHub(t, Config{})
	obs := &peakObserver{ended: map[string]int{}}
	h.SetObserver(obs)
	pub, err := h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatal(err)
	}
	var leases []*Lease
	for range 3 {
		l, err := h.Acquire(t.Context(), "live/a")
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	leases[0].Release()
	pub.Close()
	if got := obs.ended["live/a"]; got != 3 {
		t.Fatalf("peak %d, want 3", got)
	}
	pub, err = h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatal(err)
	}
	pub.Close()
	if got := obs.ended["live/a"]; got != 2 {
		t.Fatalf("second publisher's peak %d, want the 2 still watching", got)
	}
}
