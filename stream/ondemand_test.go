package stream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// publishingSource publishes an audio track from a goroutine after delay,
// and closes it on Stop.
type publishingSource struct {
	fakeSource
	h     *Hub
	delay time.Duration

	mu     sync.Mutex
	pubs   map[string]*Publication
	stopAt atomic.Int64 // UnixNano of the last Stop
}

func newPublishingSource(h *Hub, delay time.Duration) *publishingSource {
	s := &publishingSource{h: h, delay: delay, pubs: map[string]*Publication{}}
	s.start = func(name string) error {
		go func() {
			time.Sleep(s.delay)
			p, err := s.h.Publish(name, []TrackInfo{audioInfo()})
			if err != nil {
				s.h.SourceFailed(name, err)
				return
			}
			s.mu.Lock()
			s.pubs[name] = p
			s.mu.Unlock()
		}()
		return nil
	}
	s.stop = func(name string) {
		s.stopAt.Store(time.Now().UnixNano())
		s.mu.Lock()
		p := s.pubs[name]
		delete(s.pubs, name)
		s.mu.Unlock()
		p.Close()
	}
	return s
}

func TestAcquireLiveStream(t *testing.T) {
	h := newTestHub(t, Config{})
	p, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Acquire(t.Context(), "live/a")
	if err != nil {
		t.Fatal(err)
	}
	tracks := l.Tracks()
	if len(tracks) != 2 || tracks[0] != p.Track(Audio) || tracks[1] != p.Track(Video) {
		t.Fatalf("Tracks() = %v, want audio then video", tracks)
	}
	l.Release()
	l.Release()
	if _, err := h.Acquire(t.Context(), "live/../x"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestAcquireNoSourceFailsAtOnce(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: time.Hour})
	h.AddSource("devices/", &fakeSource{})
	start := time.Now()
	_, err := h.Acquire(t.Context(), "live/nobody")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Acquire without a source took %v", d)
	}
	var nl *NotLiveError
	if !errors.Is(err, ErrNotLive) || !errors.As(err, &nl) {
		t.Fatalf("Acquire = %v, want a *NotLiveError", err)
	}
	if nl.Name != "live/nobody" || nl.Reason != "no publisher" || nl.RetryAfter <= 0 {
		t.Fatalf("NotLiveError %+v", nl)
	}
	if h.numStreams() != 0 {
		t.Fatal("a failed Acquire left demand behind")
	}
}

func TestOnDemandSourcePublishes(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: 5 * time.Second})
	src := newPublishingSource(h, 50*time.Millisecond)
	h.AddSource("devices/", src)
	start := time.Now()
	l, err := h.Acquire(t.Context(), "devices/cam1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("Acquire returned after %v, before the source published", d)
	}
	if len(l.Tracks()) != 1 || src.starts.Load() != 1 {
		t.Fatalf("%d tracks, %d starts", len(l.Tracks()), src.starts.Load())
	}
}

func TestOnDemandStartsOnceForConcurrentAcquires(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: 5 * time.Second, OnDemandGrace: time.Hour})
	src := newPublishingSource(h, 50*time.Millisecond)
	h.AddSource("devices/", src)
	var wg sync.WaitGroup
	leases := make(chan *Lease, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := h.Acquire(t.Context(), "devices/cam1")
			if err != nil {
				t.Error(err)
				return
			}
			leases <- l
		}()
	}
	wg.Wait()
	close(leases)
	if n := src.starts.Load(); n != 1 {
		t.Fatalf("source started %d times, want 1", n)
	}
	if n := h.leasesOf("devices/cam1"); n != 5 {
		t.Fatalf("%d leases, want 5", n)
	}
	for l := range leases {
		l.Release()
	}
	if n := h.leasesOf("devices/cam1"); n != 0 {
		t.Fatalf("%d leases after release", n)
	}
}

func TestOnDemandStopAfterGrace(t *testing.T) {
	const grace = 50 * time.Millisecond
	h := newTestHub(t, Config{OnDemandGrace: grace, OrphanTimeout: time.Hour})
	src := newPublishingSource(h, 0)
	h.AddSource("devices/", src)
	l, err := h.Acquire(t.Context(), "devices/cam1")
	if err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	l.Release()
	waitFor(t, "Stop after the grace period", func() bool { return src.stops.Load() == 1 })
	if d := time.Unix(0, src.stopAt.Load()).Sub(released); d < grace {
		t.Fatalf("Stop %v after the last release, before the %v grace", d, grace)
	}
	waitFor(t, "stream to be removed", func() bool { return h.numStreams() == 0 })

	// The next viewer starts the source again.
	l, err = h.Acquire(t.Context(), "devices/cam1")
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if n := src.starts.Load(); n != 2 {
		t.Fatalf("%d starts, want 2", n)
	}
}

// graceSource is a publishingSource with a grace period of its own.
type graceSource struct {
	*publishingSource
	grace time.Duration
}

func (g graceSource) Grace() time.Duration { return g.grace }

// A source with a grace of its own is stopped after it, while the other
// sources keep the hub's.
func TestOnDemandSourceOwnGrace(t *testing.T) {
	const own = 50 * time.Millisecond
	h := newTestHub(t, Config{OnDemandGrace: time.Hour, OrphanTimeout: time.Hour})
	users := graceSource{newPublishingSource(h, 0), own}
	cams := newPublishingSource(h, 0)
	h.AddSource("users/", users)
	h.AddSource("devices/", cams)
	lu, err := h.Acquire(t.Context(), "users/bob")
	if err != nil {
		t.Fatal(err)
	}
	lc, err := h.Acquire(t.Context(), "devices/cam1")
	if err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	lu.Release()
	lc.Release()
	waitFor(t, "the user's stream to stop after its own grace", func() bool { return users.stops.Load() == 1 })
	if d := time.Unix(0, users.stopAt.Load()).Sub(released); d < own || d > own+2*time.Second {
		t.Fatalf("Stop %v after the last release, want about %v", d, own)
	}
	time.Sleep(4 * own)
	if n := cams.stops.Load(); n != 0 {
		t.Fatalf("the camera was stopped %d times within the hub's hour of grace", n)
	}
}

func TestOnDemandReacquireWithinGraceKeepsSource(t *testing.T) {
	const grace = 100 * time.Millisecond
	h := newTestHub(t, Config{OnDemandGrace: grace, OrphanTimeout: time.Hour})
	src := newPublishingSource(h, 0)
	h.AddSource("devices/", src)
	l1, err := h.Acquire(t.Context(), "devices/cam1")
	if err != nil {
		t.Fatal(err)
	}
	l1.Release()
	l2, err := h.Acquire(t.Context(), "devices/cam1")
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	pending := h.streams["devices/cam1"].grace != nil
	h.mu.Unlock()
	if pending {
		t.Fatal("re-acquire did not cancel the pending Stop")
	}
	time.Sleep(2 * grace) // past the first grace period
	released := time.Now()
	l2.Release()
	waitFor(t, "Stop after the second release", func() bool { return src.stops.Load() == 1 })
	if stopAt := time.Unix(0, src.stopAt.Load()); stopAt.Before(released) {
		t.Fatal("Stop was called while a lease was held")
	}
	if n := src.starts.Load(); n != 1 {
		t.Fatalf("%d starts, want 1", n)
	}
}

func TestOnDemandTimeout(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: 100 * time.Millisecond, OnDemandGrace: 10 * time.Millisecond})
	src := &fakeSource{} // never publishes
	h.AddSource("devices/", src)
	start := time.Now()
	_, err := h.Acquire(t.Context(), "devices/cam1")
	d := time.Since(start)
	var nl *NotLiveError
	if !errors.As(err, &nl) || !errors.Is(err, ErrNotLive) {
		t.Fatalf("Acquire = %v, want a *NotLiveError", err)
	}
	if d < 100*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Acquire gave up after %v, want about 100ms", d)
	}
	if !strings.Contains(nl.Reason, "did not go live within 100ms") {
		t.Fatalf("Reason %q", nl.Reason)
	}
	waitFor(t, "the timed-out source to be stopped", func() bool { return src.stops.Load() == 1 })
	waitFor(t, "no demand left", func() bool { return h.numStreams() == 0 })

	// A shorter context deadline wins over OnDemandTimeout.
	h2 := newTestHub(t, Config{OnDemandTimeout: time.Hour})
	h2.AddSource("", &fakeSource{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = h2.Acquire(ctx, "x")
	if !errors.Is(err, ErrNotLive) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Acquire with a short deadline = %v after %v", err, time.Since(start))
	}
	if !errors.As(err, &nl) || !strings.Contains(nl.Reason, "ms") {
		t.Fatalf("Reason %q does not give the deadline's wait", nl.Reason)
	}
}

func TestSourceFailedWakesWaiters(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: time.Hour, OnDemandGrace: time.Hour})
	src := &fakeSource{}
	h.AddSource("devices/", src)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := h.Acquire(t.Context(), "devices/cam1")
			errs <- err
		}()
	}
	waitFor(t, "three waiters", func() bool { return h.leasesOf("devices/cam1") == 3 })
	h.SourceFailed("devices/cam1", errors.New("camera unreachable"))
	for range 3 {
		select {
		case err := <-errs:
			var nl *NotLiveError
			if !errors.As(err, &nl) || !errors.Is(err, ErrNotLive) || nl.Reason != "camera unreachable" {
				t.Fatalf("Acquire = %v, want NotLiveError(camera unreachable)", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("SourceFailed did not wake a waiter")
		}
	}
	// A failed source with no demand left is stopped without the grace.
	waitFor(t, "the failed source to be stopped", func() bool { return src.stops.Load() == 1 })
	waitFor(t, "stream to be removed", func() bool { return h.numStreams() == 0 })
	if src.starts.Load() != 1 {
		t.Fatalf("%d starts", src.starts.Load())
	}
}

func TestSourceStartErrorFailsWaiters(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: time.Hour})
	src := &fakeSource{start: func(string) error { return errors.New("user is offline") }}
	h.AddSource("users/", src)
	_, err := h.Acquire(t.Context(), "users/bob")
	var nl *NotLiveError
	if !errors.As(err, &nl) || nl.Reason != "user is offline" {
		t.Fatalf("Acquire = %v", err)
	}
	if _, err := h.Acquire(t.Context(), "users/bob"); err == nil {
		t.Fatal("second Acquire succeeded")
	}
	if src.starts.Load() != 2 || src.stops.Load() != 0 {
		t.Fatalf("%d starts, %d stops; want 2 and 0", src.starts.Load(), src.stops.Load())
	}
	if h.numStreams() != 0 {
		t.Fatal("failed Acquires left demand behind")
	}
}

func TestLongestSourcePrefixWins(t *testing.T) {
	h := newTestHub(t, Config{OnDemandTimeout: 20 * time.Millisecond, OnDemandGrace: time.Hour})
	short, long := &fakeSource{}, &fakeSource{}
	h.AddSource("devices/lobby/", long)
	h.AddSource("devices/", short)
	_, _ = h.Acquire(t.Context(), "devices/lobby/cam")
	_, _ = h.Acquire(t.Context(), "devices/door")
	if long.starts.Load() != 1 || short.starts.Load() != 1 {
		t.Fatalf("long %d, short %d starts; want 1 each", long.starts.Load(), short.starts.Load())
	}
}

func TestReleaseAfterCloseIsHarmless(t *testing.T) {
	h := NewHub(Config{}, nil)
	if _, err := h.Publish("live/a", []TrackInfo{audioInfo()}); err != nil {
		t.Fatal(err)
	}
	l, err := h.Acquire(t.Context(), "live/a")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	l.Release()
	if len(l.Tracks()) != 0 {
		t.Fatal("tracks after Close")
	}
}

// A viewer who comes while the source is being stopped neither gets a
// stream about to end nor waits in vain: the source is started again, and
// the viewer goes ahead once Stop returns, whether the source kept the
// stream (a camera whose Start and Stop are counted) or a new start
// published it.
func TestAcquireDuringStop(t *testing.T) {
	for _, keeps := range []bool{true, false} {
		h := newTestHub(t, Config{OnDemandGrace: 10 * time.Millisecond, OrphanTimeout: time.Hour})
		src := newPublishingSource(h, 0)
		inStop, release := make(chan struct{}), make(chan struct{})
		closeOnStop := src.stop
		var first sync.Once
		src.stop = func(name string) {
			first.Do(func() { close(inStop) })
			<-release
			if !keeps {
				closeOnStop(name)
			}
		}
		started := src.start
		src.start = func(name string) error {
			switch {
			case src.starts.Load() == 1:
				return started(name)
			case keeps:
				return nil // a counted start of a source that is still running
			}
			go func() { // publishes anew once its previous stream is gone
				<-release
				waitFor(t, "the old publisher to leave", func() bool { return !h.IsLive(name) })
				_ = started(name)
			}()
			return nil
		}
		h.AddSource("devices/", src)
		l, err := h.Acquire(t.Context(), "devices/cam")
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		<-inStop
		got := make(chan error, 1)
		go func() {
			l, err := h.Acquire(t.Context(), "devices/cam")
			if err == nil {
				defer l.Release()
			}
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("keeps=%v: Acquire returned during Stop (%v)", keeps, err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("keeps=%v: Acquire after Stop: %v", keeps, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("keeps=%v: Acquire still waiting after Stop returned", keeps)
		}
		if n := src.starts.Load(); n != 2 {
			t.Fatalf("keeps=%v: %d starts, want 2", keeps, n)
		}
	}
}
