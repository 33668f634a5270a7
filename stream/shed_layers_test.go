package stream

import (
	"sync/atomic"
	"testing"
	"time"
)

// simulcastForShedding publishes a stream of two layers, hi and lo, on a
// hub whose writers shed at a lag of 50 ms.
func simulcastForShedding(t *testing.T) (h *Hub, hi, lo *Track) {
	t.Helper()
	h = newTestHub(t, Config{OverloadLag: 200 * time.Millisecond, KeyframeRequestInterval: time.Hour})
	p, err := h.Publish("live/sim", layerInfos(counters(2), "hi", "lo"))
	if err != nil {
		t.Fatal(err)
	}
	return h, p.Layer("hi"), p.Layer("lo")
}

// A simulcast stream's writer serves layers with many viewers and layers
// with few: when it falls behind, it cuts the viewers of a packet by an
// eighth of the most any layer has, not down to the few of a small layer,
// so the first of a large layer's viewers keep their video.
func TestShedCountsTheLargestLayer(t *testing.T) {
	_, hi, lo := simulcastForShedding(t)
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
	write := pacedWriter(everyTenth, hi, lo) // the small layer's run last
	write(30)
	// 16 viewers × 0.8 ms × 100 packets/s: 1.3 times what the writer can
	// do; serving 12 of them would do.
	cost.Store(int64(800 * time.Microsecond))
	write(150)
	got := packetsOver(sinks, write, 200)
	t.Logf("packets per viewer of the large layer over 200 sent: %v", got)
	for i := range viewers / 4 { // a quarter: the machine may be busy
		if got[i] < 150 {
			t.Errorf("viewer %d of %d on the large layer got %d of 200 packets", i, viewers, got[i])
		}
	}
}

// A viewer waiting to switch to a layer is the newest of that layer's
// viewers, the first shed there; that costs it the switch, not the video
// of the layer it still forwards.
func TestShedPendingLayerKeepsCurrent(t *testing.T) {
	h, hi, lo := simulcastForShedding(t)
	var cost, free atomic.Int64
	const viewers = 16
	for range viewers {
		SubscribeLayers([]*Track{hi, lo}, 0, &costlySink{cost: &cost})
	}
	// hi sends its first keyframe only: the switch to it, asked after,
	// waits throughout.
	write := pacedWriter(func(i int, seq uint16) bool {
		if i == 0 {
			return seq == 0
		}
		return seq%50 == 0
	}, hi, lo)
	write(1)
	v := &costlySink{cost: &free}
	sub := SubscribeLayers([]*Track{hi, lo}, 1, v)
	defer sub.Close()
	sub.SwitchLayer(0)
	write(30)
	// 16 viewers × 0.8 ms × 100 packets/s: 1.3 times what the writer can
	// do; hi's newest, the viewer switching to it, is shed there.
	cost.Store(int64(800 * time.Microsecond))
	write(150)
	if h.Overload().Shed == 0 {
		t.Fatal("nothing shed: the writer kept up")
	}
	before := v.n.Load()
	write(200)
	if cur, pend := sub.Layer(); cur != 1 || pend != 0 {
		t.Fatalf("layer %d, pending %d: want 1, 0", cur, pend)
	}
	if got := v.n.Load() - before; got < 160 {
		t.Errorf("the switching viewer got %d of the 200 packets of the layer it forwards", got)
	}
}

// A writer that sheds viewers refuses new ones, but its packets, which
// wait less than Config.OverloadLag, are not counted as behind.
func TestShedCountsNoPacketBehind(t *testing.T) {
	h := newTestHub(t, Config{OverloadLag: time.Second, KeyframeRequestInterval: time.Hour})
	tr := publishVideo(t, h, vp8Codec, nil)
	var cost atomic.Int64
	const viewers = 16
	for range viewers {
		tr.Subscribe(&costlySink{cost: &cost})
	}
	write := pacedWriter(everyTenth, tr)
	write(20)
	// 1.3 times what the writer can do: the lag passes a quarter of
	// OverloadLag, where shedding starts, and stays well below it.
	cost.Store(int64(800 * time.Microsecond))
	deadline := time.Now().Add(10 * time.Second)
	for h.Overload().Shed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing shed")
		}
		write(10)
	}
	if h.Admit() == nil {
		t.Error("a new viewer was admitted while viewers are shed")
	}
	write(50)
	if st := h.Overload(); st.Behind != 0 {
		t.Errorf("%d packets counted behind; none waited %v", st.Behind, time.Second)
	}
}
