package callbridge

import "time"

// Config tunes calls, presence and the event feed.
type Config struct {
	RingTimeout    time.Duration `env:"CALL_RING_TIMEOUT" envDefault:"30s" desc:"how long a call rings before it ends unanswered"`
	DropGrace      time.Duration `env:"CALL_DROP_GRACE" envDefault:"15s" desc:"how long an answered call survives a participant with no session in it (page closed, network lost)"`
	Heartbeat      time.Duration `env:"EVENTS_HEARTBEAT" envDefault:"15s" desc:"interval of keep-alive comments on the event feed, and of the check (one query per node) that the open pages are still signed in"`
	FeedsPerUser   int           `env:"EVENTS_PER_USER" envDefault:"8" desc:"event feeds (open pages) one user may hold at once"`
	MaxFeeds       int           `env:"EVENTS_MAX" envDefault:"10000" desc:"event feeds the server holds at once"`
	ReplayWindow   time.Duration `env:"EVENTS_REPLAY_WINDOW" envDefault:"2m" desc:"how far back a reconnecting feed's Last-Event-ID is honoured"`
	PresenceGrace  time.Duration `env:"PRESENCE_GRACE" envDefault:"3s" desc:"how long a user stays online after their last page closed (covers reloads)"`
	WatchGrace     time.Duration `env:"WATCH_GRACE" envDefault:"1s" desc:"how long a person's camera stays on after their last viewer left (covers a viewer's reload); cameras keep ON_DEMAND_GRACE"`
	AskTimeout     time.Duration `env:"WATCH_ASK_TIMEOUT" envDefault:"15s" desc:"how long a person who chose to be asked has to allow a viewer before the viewer gets 409"`
	CallsPerMinute int           `env:"CALLS_PER_MINUTE" envDefault:"10" desc:"calls one user may place per minute (bursts of half that); more get 429"`
	RingsPerMinute int           `env:"RINGS_PER_MINUTE" envDefault:"10" desc:"calls that may ring one user per minute, from all callers (bursts of half that); more get 429"`
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RingTimeout, 30*time.Second)
	def(&c.DropGrace, 15*time.Second)
	def(&c.Heartbeat, 15*time.Second)
	def(&c.ReplayWindow, 2*time.Minute)
	def(&c.WatchGrace, time.Second)
	def(&c.AskTimeout, 15*time.Second)
	if c.PresenceGrace < 0 {
		c.PresenceGrace = 0
	}
	if c.CallsPerMinute <= 0 {
		c.CallsPerMinute = 10
	}
	if c.RingsPerMinute <= 0 {
		c.RingsPerMinute = 10
	}
	if c.FeedsPerUser <= 0 {
		c.FeedsPerUser = 8
	}
	if c.MaxFeeds <= 0 {
		c.MaxFeeds = 10000
	}
	return c
}
