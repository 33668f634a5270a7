package stream

import (
	"errors"
	"sync/atomic"
	"time"
)

// Overload.
//
// When the machine cannot keep up, the viewers already watching should
// keep their media and new ones wait: every extra viewer costs each
// packet's fan-out more, so admitting viewers into a saturated server
// degrades everyone. A stream's writer that finds a packet older than
// Config.OverloadLag when it takes it from its queue (or a track whose
// writer's queue is full) marks the hub overloaded; for the next
// overloadHoldFactor lags (at most maxOverloadHold) Admit refuses new viewers, who get 503 and
// Retry-After from the protocol endpoints, and counts them.

// ErrOverloaded means the hub's writers are not keeping up: a new viewer
// should try again later.
var ErrOverloaded = errors.New("server overloaded")

// overloadHoldFactor is how many lags (Config.OverloadLag) the hub stays
// overloaded after its writers last fell behind.
const overloadHoldFactor = 20

// maxOverloadHold caps the hold time: new viewers are told to come back
// after it (Retry-After).
const maxOverloadHold = 5 * time.Second

// overload is the hub's overload state.
type overload struct {
	lag  int64 // Config.OverloadLag in ns
	hold int64 // ns
	// last is when a writer last fell behind (ns since Hub.base; 0:
	// never).
	last    atomic.Int64
	refused atomic.Uint64
	marks   atomic.Uint64
	shed    atomic.Uint64 // packets not sent to viewers shed (shed.go)
}

// note records a packet that a writer took from its queue at now, having
// arrived at at (both ns since Hub.base).
func (o *overload) note(at, now int64) {
	if now-at > o.lag {
		o.mark(now)
	}
}

// mark records that the fan-out fell behind at now.
func (o *overload) mark(now int64) {
	o.refuse(now)
	o.marks.Add(1)
}

// refuse refuses new viewers from now on for the hold time, without a
// packet counted behind (a writer shedding viewers, shed.go).
func (o *overload) refuse(now int64) {
	if now == 0 {
		now = 1
	}
	o.last.Store(now)
}

// OverloadStats are the hub's overload counters.
type OverloadStats struct {
	// Overloaded says whether new viewers are refused now.
	Overloaded bool
	// Refused counts the viewers Admit refused.
	Refused uint64
	// Behind counts the packets a writer took from its queue later than
	// Config.OverloadLag, or could not queue at all.
	Behind uint64
	// Shed counts the video packets not sent to viewers that a writer
	// skipped because it could not keep up (the newest first, see
	// shed.go).
	Shed uint64
}

// Overloaded reports whether the hub's writers fell behind within the
// hold time (see Admit).
func (h *Hub) Overloaded() bool {
	last := h.over.last.Load()
	return last != 0 && int64(time.Since(h.base))-last < h.over.hold
}

// Admit says whether a new viewer may join: ErrOverloaded (counted) while
// the hub is overloaded, nil otherwise.
func (h *Hub) Admit() error {
	if h.Overloaded() {
		h.over.refused.Add(1)
		return ErrOverloaded
	}
	return nil
}

// Overload returns the hub's overload state and counters.
func (h *Hub) Overload() OverloadStats {
	return OverloadStats{Overloaded: h.Overloaded(), Refused: h.over.refused.Load(), Behind: h.over.marks.Load(),
		Shed: h.over.shed.Load()}
}
