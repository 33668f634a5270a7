package metrics

import (
	"strconv"
	"time"
)

// SessionCreated implements session.Observer.
func (m *Metrics) SessionCreated(protocol string) {
	m.sessCreated.WithLabelValues(direction(protocol)).Inc()
}

// SessionRefused implements session.Observer.
func (m *Metrics) SessionRefused(protocol string) {
	m.sessRefused.WithLabelValues(direction(protocol)).Inc()
}

// SessionConnected implements session.Observer.
func (m *Metrics) SessionConnected(protocol string, since time.Duration) {
	d := direction(protocol)
	m.sessConnected.WithLabelValues(d).Inc()
	m.connectTime.WithLabelValues(d).Observe(since.Seconds())
}

// SessionMedia implements session.Observer.
func (m *Metrics) SessionMedia(protocol string, since time.Duration) {
	m.mediaTime.WithLabelValues(direction(protocol)).Observe(since.Seconds())
}

// SessionClosed implements session.Observer.
func (m *Metrics) SessionClosed(protocol, reason string, connected bool) {
	m.sessClosed.WithLabelValues(direction(protocol), closeReason(reason), strconv.FormatBool(connected)).Inc()
}

// KeyframeRequest implements session.Observer.
func (m *Metrics) KeyframeRequest(kind string) {
	if kind != "pli" && kind != "fir" {
		kind = "other"
	}
	m.keyframeReqs.WithLabelValues(kind).Inc()
}

// Nack implements session.Observer.
func (m *Metrics) Nack(packets int) { m.nacks.Add(float64(packets)) }

// ReceiverReport implements session.Observer.
func (m *Metrics) ReceiverReport(lossFraction float64, jitter time.Duration) {
	m.loss.Observe(lossFraction)
	m.jitter.Observe(jitter.Seconds())
}

// LayerSwitch implements session.Observer.
func (m *Metrics) LayerSwitch(up bool) {
	dir := "down"
	if up {
		dir = "up"
	}
	m.layerSwitches.WithLabelValues(dir).Inc()
}

// BandwidthEstimate implements session.Observer.
func (m *Metrics) BandwidthEstimate(bps int) { m.estimate.Observe(float64(bps) / 8) }

// OnDemandStarted implements stream.Observer.
func (m *Metrics) OnDemandStarted(name string) { m.odStarts.WithLabelValues(namespace(name)).Inc() }

// OnDemandLive implements stream.Observer.
func (m *Metrics) OnDemandLive(name string, after time.Duration) {
	m.odLive.WithLabelValues(namespace(name)).Observe(after.Seconds())
}

// OnDemandFailed implements stream.Observer.
func (m *Metrics) OnDemandFailed(name string, _ error) {
	m.odFailed.WithLabelValues(namespace(name)).Inc()
}

// OnDemandTimedOut implements stream.Observer.
func (m *Metrics) OnDemandTimedOut(name string) { m.odTimedOut.WithLabelValues(namespace(name)).Inc() }

// StreamEnded implements stream.Observer.
func (m *Metrics) StreamEnded(name string, peakViewers int) {
	m.peakViewers.WithLabelValues(namespace(name)).Observe(float64(peakViewers))
}

// CallSetup records how long a call took to set up (callbridge's OnSetup).
func (m *Metrics) CallSetup(d time.Duration) { m.callSetup.Observe(d.Seconds()) }
