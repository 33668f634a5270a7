package whep

import (
	"testing"
	"time"
)

// plan is a layerPlan of layers given best first with their bitrates.
func plan(bps ...int64) layerPlan {
	p := layerPlan{bps: bps}
	for i := range bps {
		p.order = append(p.order, i)
	}
	return p
}

// The automatic choice: down at once on congestion (after two looks), to
// the best layer that fits; up when the estimate carries the next layer,
// not more often than upEvery; on trial after a calm wait; a move up that
// congests goes back, and the next waits twice as long.
func TestAutoLayer(t *testing.T) {
	p := plan(1_500_000, 500_000, 150_000) // 0 best, 2 lowest
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var a autoLayer
	decide := func(d time.Duration, cur int, est int64) int { return a.decide(at(d), p, cur, est, 0) }

	if got := decide(0, -1, 0); got != 0 {
		t.Fatalf("start without an estimate: layer %d, want the best", got)
	}
	if got := decide(500*time.Millisecond, 0, 700_000); got != 0 {
		t.Fatalf("one congested look moved the viewer: %d", got)
	}
	if got := decide(time.Second, 0, 700_000); got != 1 {
		t.Fatalf("two congested looks: layer %d, want 1 (the best that fits 700k)", got)
	}
	if got := decide(1500*time.Millisecond, 1, 100_000); got != 1 {
		t.Fatalf("one look below every layer moved the viewer: %d", got)
	}
	if got := decide(2*time.Second, 1, 100_000); got != 2 {
		t.Fatalf("below every layer: layer %d, want the lowest", got)
	}
	// Room for the next layer, but the placement congested a moment ago:
	// no move up for firstTrial.
	if got := decide(6*time.Second, 2, 600_000); got != 2 {
		t.Fatal("went up within the wait after the placement congested")
	}
	if got := decide(9*time.Second+time.Millisecond, 2, 600_000); got != 1 {
		t.Fatalf("estimate carries layer 1: got %d", got)
	}
	if got := decide(11*time.Second, 1, 600_000); got != 1 {
		t.Fatal("went up again within upEvery")
	}
	// The move held; the estimate cannot show room for layer 0 (1.5M)
	// from 500k: a trial after a calm firstTrial.
	now := 16 * time.Second
	decide(now, 1, 800_000)
	for now += lookEvery; now < 16*time.Second+firstTrial; now += lookEvery {
		if got := decide(now, 1, 800_000); got != 1 {
			t.Fatalf("trial before the wait, at %s", now)
		}
	}
	if got := decide(now, 1, 800_000); got != 0 {
		t.Fatalf("no trial after a calm %s", firstTrial)
	}
	// Congestion within the trial window: back to layer 1, and the next
	// move up waits twice as long.
	decide(now+time.Second, 0, 600_000)
	if got := decide(now+1500*time.Millisecond, 0, 600_000); got != 1 {
		t.Fatalf("failed trial: layer %d, want 1", got)
	}
	if a.upWait != 2*firstTrial {
		t.Fatalf("wait %s after a failed move up, want %s", a.upWait, 2*firstTrial)
	}
	if got := decide(now+10*time.Second, 1, 2_000_000); got != 1 {
		t.Fatal("moved up again before the doubled wait")
	}
	if got := decide(now+2*firstTrial+2*time.Second, 1, 2_000_000); got != 0 {
		t.Fatal("no move up after the doubled wait")
	}
}

// Losses the viewer reports are congestion, even while the estimate still
// says otherwise: at least one layer down.
func TestAutoLayerLoss(t *testing.T) {
	p := plan(1_500_000, 500_000, 150_000)
	var a autoLayer
	now := time.Unix(1000, 0)
	a.decide(now, p, -1, 10_000_000, 0)
	a.decide(now.Add(time.Second), p, 0, 10_000_000, 0.2)
	if got := a.decide(now.Add(1500*time.Millisecond), p, 0, 10_000_000, 0.2); got != 1 {
		t.Fatalf("20%% loss with a high estimate: layer %d, want 1", got)
	}
}

// A layer that stops sending is left, and never chosen.
func TestAutoLayerInactive(t *testing.T) {
	p := plan(0, 500_000, 150_000) // the best layer paused by its sender
	var a autoLayer
	now := time.Unix(1000, 0)
	if got := a.decide(now, p, 0, 5_000_000, 0); got != 1 {
		t.Fatalf("watching a paused layer: moved to %d, want 1", got)
	}
	if got := a.decide(now.Add(time.Minute), p, 1, 5_000_000, 0); got != 1 {
		t.Fatalf("went up to a paused layer: %d", got)
	}
}
