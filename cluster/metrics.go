package cluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the node's cluster collectors. A nil *Metrics counts
// nothing.
type Metrics struct {
	up            prometheus.Gauge
	streamsHeld   prometheus.Gauge
	relaysIn      prometheus.Gauge
	leaseFailures prometheus.Counter
	forwarded     prometheus.Counter
}

// NewMetrics registers the cluster collectors of node on reg; relaysOut
// counts the sessions other nodes pull from this one now (nil: none).
func NewMetrics(reg prometheus.Registerer, node string, relaysOut func() int) *Metrics {
	if relaysOut == nil {
		relaysOut = func() int { return 0 }
	}
	labels := prometheus.Labels{"node": node}
	m := &Metrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wishcast_cluster_node_up", ConstLabels: labels,
			Help: "1 while this node runs in a cluster and renews its leases."}),
		streamsHeld: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wishcast_cluster_streams_held", ConstLabels: labels,
			Help: "Streams and cameras this node holds in the stream directory."}),
		relaysIn: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wishcast_cluster_relays_in", ConstLabels: labels,
			Help: "Streams this node pulls from other nodes now."}),
		leaseFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "wishcast_cluster_lease_failures_total", ConstLabels: labels,
			Help: "Lease renewals in the stream directory that failed."}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: "wishcast_cluster_forwarded_requests_total", ConstLabels: labels,
			Help: "Session requests forwarded to the node that holds the session."}),
	}
	out := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wishcast_cluster_relays_out", ConstLabels: labels,
		Help: "Pulls of this node's streams by other nodes now."}, func() float64 { return float64(relaysOut()) })
	reg.MustRegister(m.up, m.streamsHeld, m.relaysIn, out, m.leaseFailures, m.forwarded)
	m.up.Set(1)
	return m
}

func (m *Metrics) leaseFailed() {
	if m != nil {
		m.leaseFailures.Inc()
	}
}

func (m *Metrics) held(d float64) {
	if m != nil {
		m.streamsHeld.Add(d)
	}
}

func (m *Metrics) relayIn(d float64) {
	if m != nil {
		m.relaysIn.Add(d)
	}
}

func (m *Metrics) forward() {
	if m != nil {
		m.forwarded.Inc()
	}
}

// down marks the node as stopped.
func (m *Metrics) down() {
	if m != nil {
		m.up.Set(0)
	}
}
