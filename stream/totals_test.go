package stream

import "testing"

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
