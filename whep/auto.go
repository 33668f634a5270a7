package whep

import (
	"time"

	"github.com/wishcast/wishcast/stream"
)

// The automatic layer choice follows the viewer's bandwidth estimate
// (session.Estimator: GCC over the viewer's TWCC feedback) and the loss
// its receiver reports show:
//
//   - down at once on congestion (an estimate below what the current layer
//     and the audio need, or lossCongested, for two looks in a row), to the
//     best layer that fits, at least one layer down; the lowest when none
//     fits: the viewer keeps the lowest layer and the audio;
//   - up one layer at a time, at most every upEvery, when the estimate
//     carries the next layer, or after upWait of an estimate well above
//     the current layer's rate when it cannot tell (a send-side estimate
//     rises only so far above what is sent);
//   - a move up followed by congestion within trialWindow failed: the
//     viewer goes back, and the next move up waits twice as long (up to
//     maxTrialWait); one that holds resets the wait.
//
// Switches happen at the target layer's keyframe (Subscription.SwitchLayer),
// so the viewer sees no broken frame; a layer that stopped sending (a
// browser pauses its top layers when its own uplink is short) is never a
// target, and one being watched when it stops is left.
const (
	lookEvery    = 500 * time.Millisecond
	upEvery      = 4 * time.Second
	firstTrial   = 8 * time.Second
	maxTrialWait = 64 * time.Second
	trialWindow  = 6 * time.Second
	audioReserve = 64_000 // bits per second kept for the audio track
	// settleDown is how long after a move down the estimate is left to
	// catch up (it reflects the old layer's losses for a while) before
	// congestion moves the viewer down again, unless it is severe.
	settleDown = 2 * time.Second
	// lossCongested is the loss a viewer's receiver reports show that is
	// congestion whatever the estimate says (losses from a link that
	// drops without queueing reach a delay-based estimate late).
	lossCongested = 0.1
	// reportSpan is how far back a receiver report's loss reaches.
	reportSpan = 1500 * time.Millisecond
)

// autoLayer is the automatic choice's state, owned by layerControl.run.
type autoLayer struct {
	placed     bool          // the first placement with measured rates was made
	congested  int           // looks in a row with congestion
	lastSwitch time.Time     // when the last switch was asked for
	lastDown   time.Time     // when the last move down was asked for
	calm       time.Time     // since when the estimate has been well above needs
	upAt       time.Time     // when the last move up was asked for, until it held (zero: none)
	upFrom     int           // the layer that move started from
	failedAt   time.Time     // when a move up last failed
	upWait     time.Duration // how long after a failed move up the next waits
}

// layerPlan is the layers of a viewer's stream at one look, best first.
type layerPlan struct {
	order []int   // indexes into the viewer's layers, best first
	bps   []int64 // bitrates, by index into the viewer's layers
}

func planOf(layers []*stream.Track) layerPlan {
	p := layerPlan{order: stream.RankLayers(layers), bps: make([]int64, len(layers))}
	for i, l := range layers {
		p.bps[i], _ = l.Rates()
	}
	return p
}

// need is what layer i and the audio take.
func (p layerPlan) need(i int) int64 { return p.bps[i] + audioReserve }

// measured reports whether any layer's rate is known.
func (p layerPlan) measured() bool {
	for _, b := range p.bps {
		if b > 0 {
			return true
		}
	}
	return false
}

// active reports whether layer i is sending.
func (p layerPlan) active(i int) bool { return p.bps[i] > 0 }

// fitting returns the best active layer whose needs est carries, or the
// lowest active one if none does (-1 when none is active).
func (p layerPlan) fitting(est int64) int {
	lowest := -1
	for _, i := range p.order {
		if !p.active(i) {
			continue
		}
		if p.need(i) <= est {
			return i
		}
		lowest = i
	}
	return lowest
}

// lesser returns the next active layer below cur in the order, or cur
// if it is the lowest.
func (p layerPlan) lesser(cur int) int {
	below := false
	for _, i := range p.order {
		if below && p.active(i) {
			return i
		}
		below = below || i == cur
	}
	return cur
}

// planPos is the position of layer i in the plan's order (best: 0).
func planPos(p layerPlan, i int) int {
	for pos, j := range p.order {
		if j == i {
			return pos
		}
	}
	return len(p.order)
}

// better returns the next active layer above cur in the order, or -1.
func (p layerPlan) better(cur int) int {
	next := -1
	for _, i := range p.order {
		if i == cur {
			return next
		}
		if p.active(i) {
			next = i
		}
	}
	return -1
}

// decide returns the layer the viewer should move to (or cur), given the
// plan, the current layer and the estimate (est <= 0: none yet).
func (a *autoLayer) decide(now time.Time, p layerPlan, cur int, est int64, loss float64) int {
	if a.upWait == 0 {
		a.upWait = firstTrial
	}
	if !p.measured() {
		return cur // rates are measured over a second: wait for them
	}
	if !a.placed || cur < 0 || !p.active(cur) {
		// The first look with measured rates (the viewer may have started
		// before they were known), or the layer watched stopped sending:
		// the best that fits, or the best at all without an estimate.
		a.placed = true
		if est <= 0 {
			est = 1 << 62
		}
		// A placement is a move up like any: if it congests, the next
		// move up waits longer.
		a.upAt, a.upFrom = now, -1
		return a.switchTo(now, p.fitting(est), cur)
	}
	if est <= 0 {
		return cur
	}
	if est < p.need(cur)*95/100 || loss >= lossCongested {
		a.calm = time.Time{}
		if a.congested++; a.congested < 2 {
			return cur
		}
		if !a.upAt.IsZero() && now.Sub(a.upAt) < trialWindow {
			// The move up failed: back where it came from (the estimate, hit
			// by the losses since, says less than that layer carries), and
			// the next move up waits twice as long.
			a.upAt, a.failedAt = time.Time{}, now
			if a.upFrom >= 0 {
				a.upWait = min(2*a.upWait, maxTrialWait)
				return a.down(now, a.upFrom, cur)
			}
			// The first placement congested: down as for any congestion,
			// and no move up for upWait.
		}
		if now.Sub(a.lastDown) < settleDown && est >= p.need(cur)/2 {
			return cur
		}
		target := p.fitting(est)
		if planPos(p, target) <= planPos(p, cur) {
			target = p.lesser(cur) // losses the estimate does not show yet
		}
		return a.down(now, target, cur)
	}
	a.congested = 0
	if !a.upAt.IsZero() && now.Sub(a.upAt) >= trialWindow {
		a.upAt, a.upWait = time.Time{}, firstTrial // the move up held
	}
	// A send-side estimate rises to about 1.5 times what is sent: well
	// above the current layer's own rate means no congestion.
	switch {
	case est < p.bps[cur]*130/100:
		a.calm = time.Time{}
	case a.calm.IsZero():
		a.calm = now
	}
	next := p.better(cur)
	if next < 0 || now.Sub(a.lastSwitch) < upEvery || (!a.failedAt.IsZero() && now.Sub(a.failedAt) < a.upWait) {
		return cur
	}
	if est >= p.need(next)*105/100 || (!a.calm.IsZero() && now.Sub(a.calm) >= a.upWait) {
		a.upAt, a.upFrom = now, cur
		return a.switchTo(now, next, cur)
	}
	return cur
}

// switchTo records a switch to target (if it is one) and returns it.
func (a *autoLayer) switchTo(now time.Time, target, cur int) int {
	if target < 0 {
		return cur
	}
	if target != cur {
		a.lastSwitch, a.congested, a.calm = now, 0, time.Time{}
	}
	return target
}

// down records a move down (see settleDown) and returns target.
func (a *autoLayer) down(now time.Time, target, cur int) int {
	if t := a.switchTo(now, target, cur); t != cur {
		a.lastDown = now
		return t
	}
	return cur
}

// run keeps the viewer on the layer the automatic choice (or the viewer's
// pin) says, until the session ends.
func (c *layerControl) run() {
	t := time.NewTicker(lookEvery)
	defer t.Stop()
	for {
		select {
		case <-c.v.sess.Done():
			return
		case now := <-t.C:
			c.look(now)
		}
	}
}

// look makes one decision.
func (c *layerControl) look(now time.Time) {
	sub := c.v.sub.Load()
	if sub == nil {
		return
	}
	c.mu.Lock()
	pinned := c.pinned
	c.mu.Unlock()
	if pinned >= 0 {
		sub.SwitchLayer(pinned)
		return
	}
	if c.replace.Swap(false) {
		c.auto.placed = false
	}
	cur, pending := sub.Layer()
	if pending >= 0 {
		cur = pending // a switch is under way: decide from where it goes
	}
	var est int64
	if e := c.v.sess.Estimator; e != nil {
		est = int64(e.Bitrate())
		if c.looks++; c.looks%10 == 0 {
			if obs := c.v.sess.Observer(); obs != nil {
				obs.BandwidthEstimate(int(est))
			}
		}
	}
	target := c.auto.decide(now, planOf(c.v.layers), cur, est, c.v.loss(c.auto.lastSwitch.Add(reportSpan)))
	if target != cur {
		c.v.sess.Log.Debug("simulcast layer switch", "from", c.v.layers[max(cur, 0)].Layer(), "to", c.v.layers[target].Layer(),
			"estimate", est, "loss", c.v.loss(c.auto.lastSwitch.Add(reportSpan)))
		if obs := c.v.sess.Observer(); obs != nil {
			obs.LayerSwitch(planRank(c.v.layers, target) < planRank(c.v.layers, cur))
		}
		sub.SwitchLayer(target)
	}
}

// start is the layer a new viewer starts on: the best one (the estimate
// starts high; congestion brings it down).
func (c *layerControl) start() int {
	c.mu.Lock()
	pinned := c.pinned
	c.mu.Unlock()
	if pinned >= 0 {
		return pinned
	}
	return stream.RankLayers(c.v.layers)[0]
}

// planRank is the position of layer i among layers, best first.
func planRank(layers []*stream.Track, i int) int {
	for pos, j := range stream.RankLayers(layers) {
		if j == i {
			return pos
		}
	}
	return len(layers)
}
