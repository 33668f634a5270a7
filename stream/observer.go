package stream

import "time"

// Observer hears what the hub does with on-demand sources, for metrics.
// Its methods are called without hub locks held and must not block.
type Observer interface {
	// OnDemandStarted: the hub started the source of name for a viewer.
	OnDemandStarted(name string)
	// OnDemandLive: the source of name went live after being started.
	OnDemandLive(name string, after time.Duration)
	// OnDemandFailed: the source of name failed to start or to go live.
	OnDemandFailed(name string, err error)
	// OnDemandTimedOut: a viewer of name gave up waiting.
	OnDemandTimedOut(name string)
	// StreamEnded: the publisher of name left; peakViewers is the most
	// viewers (watching or waiting) it had at once while it published.
	StreamEnded(name string, peakViewers int)
}

// SetObserver installs o (nil: none). Call it before the hub is used.
func (h *Hub) SetObserver(o Observer) { h.obs = o }
