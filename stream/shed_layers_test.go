package stream

import (
	"sync/atomic"
	"testing"
	"time"
)

// A simulcast stream's writer serves layers with many viewers and layers
// with few: when it falls behind, it cuts the viewers of a packet by an
// eighth of the most any layer has, not down to the few of a small layer,
// so the first half of a large layer's viewers keep their video.
func TestShedCountsTheLargestLayer(t *testing.T) {
	h := newTestHub(t, Config{OverloadLag: 200 * time.Millisecond, KeyframeRequestInterval: time.Hour})
	p, err := h.Publish("live/sim", layerInfos(counters(2), "hi", "lo"))
	if err != nil {
		t.Fatal(err)
	}
	hi, lo := p.Layer("hi"), p.Layer("lo")
	var cost, free atomic.Int64
	const viewers = 16
	sinks := make([]*costlySink, viewers)
	for i := range sinks {
		sinks[i] = &costlySink{cost: &cost}
		SubscribeLayers([]*Track{hi, lo}, 0, sinks[i])
	}
	for range 2 {
		SubscribeLayers([]*Track{hi, lo}, 1, &costlySink{cost: &free})
	}
	var seq uint16
	write := func(n int) {
		for range n {
			for _, tr := range []*Track{hi, lo} { // the small layer's run last
				if seq%10 == 0 {
					tr.Write(keyPkt(seq, uint32(seq)*3000))
				} else {
					tr.Write(interPkt(seq, uint32(seq)*3000))
				}
			}
			seq++
			time.Sleep(10 * time.Millisecond) // 100 packets a second each
		}
	}
	write(30)
	// 16 viewers × 0.8 ms × 100 packets/s: 1.3 times what the writer can
	// do; serving 12 of them would do.
	cost.Store(int64(800 * time.Microsecond))
	write(150)
	before := make([]int64, viewers)
	for i, s := range sinks {
		before[i] = s.n.Load()
	}
	write(200)
	got := make([]int64, viewers)
	for i, s := range sinks {
		got[i] = s.n.Load() - before[i]
	}
	t.Logf("packets per viewer of the large layer over 200 sent: %v", got)
	for i := range viewers / 2 {
		if got[i] < 150 {
			t.Errorf("viewer %d of %d on the large layer got %d of 200 packets", i, viewers, got[i])
		}
	}
}
