package stream

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// within returns the next value of ch, failing t after 5 s without one.
func within[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing within 5 s")
		panic("unreachable")
	}
}

// AfterDone runs once the subscription ends, whoever ends it: Close, the
// publisher's codec change, or the hub's close; and at once for one that
// has ended already.
func TestAfterDone(t *testing.T) {
	h := newTestHub(t, Config{})
	tr := publishVideo(t, h, vp8Codec, nil)

	closed := tr.Subscribe(&recSink{})
	var n atomic.Int32
	ran := make(chan struct{}, 4)
	closed.AfterDone(func() { n.Add(1); ran <- struct{}{} })
	if isClosed(closed.Done()) || n.Load() != 0 {
		t.Fatal("AfterDone ran before the subscription ended")
	}
	closed.Close()
	within(t, ran)
	closed.AfterDone(func() { n.Add(1); ran <- struct{}{} }) // ended already: at once
	within(t, ran)

	byHub := tr.Subscribe(&recSink{})
	byHub.AfterDone(func() { n.Add(1); ran <- struct{}{} })
	h.Close()
	within(t, ran)
	closed.Close() // again: nothing more runs
	waitFor(t, "every AfterDone", func() bool { return n.Load() == 3 })
	if len(ran) != 0 {
		t.Fatalf("%d more runs than subscriptions ended", len(ran))
	}
}

// A lease's publisher watchers run on each join and leave, not after
// their stop, and see the state the change left.
func TestOnPublisherChange(t *testing.T) {
	h := newTestHub(t, Config{})
	pub, err := h.Publish("live/v", []TrackInfo{videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Acquire(context.Background(), "live/v")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	seen := make(chan bool, 8)
	stop := l.OnPublisherChange(func() { seen <- l.Live() })
	kept := make(chan bool, 8)
	defer l.OnPublisherChange(func() { kept <- l.Live() })()

	pub.Close()
	if live := within(t, seen); live {
		t.Fatal("watcher saw the stream live after its publisher left")
	}
	within(t, kept)
	stop()
	p, err := h.Publish("live/v", []TrackInfo{videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if live := within(t, kept); !live {
		t.Fatal("watcher saw the stream not live after a publisher joined")
	}
	if len(seen) != 0 {
		t.Fatal("a stopped watcher ran")
	}
}
