package stream

import "time"

// Config holds the hub's tunables. cmd parses it from the environment with
// caarlos0/env; the desc tag feeds the --help generator. Zero (or negative)
// fields are replaced by the envDefault values in NewHub.
type Config struct {
	OnDemandTimeout         time.Duration `env:"ON_DEMAND_TIMEOUT" envDefault:"10s" desc:"how long a viewer waits for an on-demand source to go live before 409"`
	OnDemandGrace           time.Duration `env:"ON_DEMAND_GRACE" envDefault:"10s" desc:"how long an on-demand source keeps running after its last viewer left"`
	OrphanTimeout           time.Duration `env:"ORPHAN_TIMEOUT" envDefault:"15s" desc:"how long viewers stay attached after the publisher left, waiting for it to come back"`
	SubscriberQueue         int           `env:"SUBSCRIBER_QUEUE" envDefault:"512" desc:"packets queued per viewer track before drops"`
	KeyframeCachePackets    int           `env:"KEYFRAME_CACHE_PACKETS" envDefault:"2048" desc:"most packets kept from the latest keyframe for joining viewers"`
	KeyframeRequestInterval time.Duration `env:"KEYFRAME_REQUEST_INTERVAL" envDefault:"500ms" desc:"keyframe requests to a publisher are coalesced to at most one per interval"`
	StallTimeout            time.Duration `env:"FANOUT_STALL_TIMEOUT" envDefault:"100ms" desc:"how long one viewer's send may hold up a stream's fan-out before that viewer gets a queue of its own"`
	OverloadLag             time.Duration `env:"FANOUT_OVERLOAD_LAG" envDefault:"1s" desc:"a packet that waits longer than this for its stream's fan-out marks the server overloaded: new viewers get 503 for 20 times as long, at most 5 s after the last late packet (a pause shorter than this, such as a busy moment of the machine, refuses nobody)"`
}

// Defaults, kept equal to the envDefault tags above.
const (
	defaultOnDemandTimeout         = 10 * time.Second
	defaultOnDemandGrace           = 10 * time.Second
	defaultOrphanTimeout           = 15 * time.Second
	defaultSubscriberQueue         = 512
	defaultKeyframeCachePackets    = 2048
	defaultKeyframeRequestInterval = 500 * time.Millisecond
	defaultStallTimeout            = 100 * time.Millisecond
	defaultOverloadLag             = time.Second
)

// withDefaults returns c with every zero or negative field set to its default.
func (c Config) withDefaults() Config {
	if c.OnDemandTimeout <= 0 {
		c.OnDemandTimeout = defaultOnDemandTimeout
	}
	if c.OnDemandGrace <= 0 {
		c.OnDemandGrace = defaultOnDemandGrace
	}
	if c.OrphanTimeout <= 0 {
		c.OrphanTimeout = defaultOrphanTimeout
	}
	if c.SubscriberQueue <= 0 {
		c.SubscriberQueue = defaultSubscriberQueue
	}
	if c.KeyframeCachePackets <= 0 {
		c.KeyframeCachePackets = defaultKeyframeCachePackets
	}
	if c.KeyframeRequestInterval <= 0 {
		c.KeyframeRequestInterval = defaultKeyframeRequestInterval
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = defaultStallTimeout
	}
	if c.OverloadLag <= 0 {
		c.OverloadLag = defaultOverloadLag
	}
	return c
}
