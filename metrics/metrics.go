// Package metrics exposes wishcast to Prometheus: instruments fed by the
// session, stream and call observers, and collectors that read the
// server's state when scraped. Everything lives on a registry of its own,
// served on a separate listener.
//
// Labels stay low in cardinality: the namespace of a stream (users, calls,
// devices, live), the direction of a session (publish, view), codec-free
// reasons and route patterns; never a session id, a token or a name a user
// typed. Camera names, which admins choose, label the camera metrics
// unless Config.DeviceLabels is off.
package metrics

import (
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is the metrics configuration.
type Config struct {
	Listen       string `env:"METRICS_LISTEN" envDefault:"127.0.0.1:8190" desc:"address of the Prometheus /metrics listener (loopback by default; 8190, not Prometheus's own 9090); empty disables it"`
	DeviceLabels bool   `env:"METRICS_DEVICE_LABELS" envDefault:"true" desc:"label camera metrics with device names; false reports cameras only in aggregate"`
}

// Metrics holds the instruments. It implements session.Observer and
// stream.Observer; create it with New.
type Metrics struct {
	cfg Config
	reg *prometheus.Registry

	sessCreated   *prometheus.CounterVec
	sessRefused   *prometheus.CounterVec
	sessConnected *prometheus.CounterVec
	sessClosed    *prometheus.CounterVec
	connectTime   *prometheus.HistogramVec
	mediaTime     *prometheus.HistogramVec
	keyframeReqs  *prometheus.CounterVec
	nacks         prometheus.Counter
	loss          prometheus.Histogram
	jitter        prometheus.Histogram
	layerSwitches *prometheus.CounterVec
	estimate      prometheus.Histogram

	odStarts   *prometheus.CounterVec
	odLive     *prometheus.HistogramVec
	odFailed   *prometheus.CounterVec
	odTimedOut *prometheus.CounterVec

	callSetup   prometheus.Histogram
	peakViewers *prometheus.HistogramVec

	httpReqs *prometheus.CounterVec
	httpTime *prometheus.HistogramVec
}

// New returns the instruments on a new registry, with the Go runtime and
// process collectors and a build-information metric for version.
func New(cfg Config, version string) *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Metrics{cfg: cfg, reg: reg}
	m.sessCreated = f.counterVec("wishcast_sessions_created_total", "WebRTC sessions created, by direction (publish: WHIP, view: WHEP).", "direction")
	m.sessRefused = f.counterVec("wishcast_sessions_refused_total", "WebRTC sessions refused because the session caps were reached.", "direction")
	m.sessConnected = f.counterVec("wishcast_sessions_connected_total", "WebRTC sessions whose ICE and DTLS came up.", "direction")
	m.sessClosed = f.counterVec("wishcast_sessions_closed_total", "WebRTC sessions ended, by reason (deleted, reaped, failed, closed, closed_by_server, rejected, revoked, no_viewers, call_ended, device_changed, publisher_gone) and whether they had connected.", "direction", "reason", "connected")
	m.connectTime = f.histogramVec("wishcast_session_connect_seconds", "Time from the WHIP/WHEP POST to the session being connected.", []float64{.05, .1, .25, .5, 1, 2, 5, 10}, "direction")
	m.mediaTime = f.histogramVec("wishcast_session_first_media_seconds", "Time from the WHIP/WHEP POST to the first media packet received (publish) or sent (view).", []float64{.05, .1, .25, .5, 1, 2, 5, 10}, "direction")
	m.keyframeReqs = f.counterVec("wishcast_viewer_keyframe_requests_total", "Keyframe requests (PLI, FIR) received from viewers, before coalescing.", "kind")
	m.nacks = f.counter("wishcast_viewer_nacked_packets_total", "Packets viewers asked for again with NACKs (answered from the retransmission buffer when still held).")
	m.loss = f.histogram("wishcast_viewer_loss_ratio", "Fraction of packets lost as reported by viewers' RTCP receiver reports.", []float64{0, .005, .01, .02, .05, .1, .2, .5, 1})
	m.jitter = f.histogram("wishcast_viewer_jitter_seconds", "Interarrival jitter reported by viewers' RTCP receiver reports.", []float64{.001, .0025, .005, .01, .02, .05, .1, .25})
	m.layerSwitches = f.counterVec("wishcast_viewer_layer_switches_total", "Simulcast layer switches the automatic choice made for viewers, by direction (up, down).", "direction")
	m.estimate = f.histogram("wishcast_viewer_bandwidth_estimate_bytes", "Simulcast viewers' bandwidth estimates in bytes per second (multiply by 8 for bit/s), sampled every few seconds.", []float64{12.5e3, 31.25e3, 62.5e3, 125e3, 250e3, 500e3, 1e6, 2e6})
	m.odStarts = f.counterVec("wishcast_ondemand_starts_total", "On-demand sources started for a first viewer, by stream namespace.", "namespace")
	m.odLive = f.histogramVec("wishcast_ondemand_start_seconds", "Time from starting an on-demand source to its stream being live.", []float64{.1, .25, .5, 1, 2, 5, 10, 20}, "namespace")
	m.odFailed = f.counterVec("wishcast_ondemand_failures_total", "On-demand sources that failed to start or to go live (camera unreachable, user offline, no answer).", "namespace")
	m.odTimedOut = f.counterVec("wishcast_ondemand_timeouts_total", "Viewers who gave up waiting for an on-demand stream.", "namespace")
	m.peakViewers = f.histogramVec("wishcast_stream_peak_viewers", "Most viewers a stream had at once while published, observed when its publisher leaves, by namespace.", []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}, "namespace")
	m.callSetup = f.histogram("wishcast_call_setup_seconds", "Time from placing a call to both participants' streams being live.", []float64{.25, .5, 1, 2, 5, 10, 30, 60})
	m.httpReqs = f.counterVec("wishcast_http_requests_total", "HTTP requests, by route pattern and status class.", "route", "code")
	m.httpTime = f.histogramVec("wishcast_http_request_duration_seconds", "Time to answer HTTP requests, by route pattern (the event feed excluded).", prometheus.DefBuckets, "route")

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wishcast_build_info", Help: "Build information; the value is always 1.",
		ConstLabels: buildLabels(version),
	})
	info.Set(1)
	reg.MustRegister(info)
	return m
}

// buildLabels are the build_info labels.
func buildLabels(version string) prometheus.Labels {
	l := prometheus.Labels{"version": version, "goversion": "", "revision": ""}
	if bi, ok := debug.ReadBuildInfo(); ok {
		l["goversion"] = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				l["revision"] = s.Value
			}
		}
	}
	return l
}

// Registry is the registry the metrics live on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}

// factory makes and registers instruments.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// direction names a session protocol's direction.
func direction(protocol string) string {
	switch protocol {
	case "whip":
		return "publish"
	case "whep":
		return "view"
	}
	return "other"
}

// namespace is a stream name's first segment when it is one of ours.
func namespace(stream string) string {
	ns, _, _ := strings.Cut(stream, "/")
	switch ns {
	case "users", "calls", "devices", "live":
		return ns
	}
	return "other"
}

// closeReason keeps reason label values to the known set.
func closeReason(r string) string {
	switch r {
	case "deleted", "reaped", "failed", "closed", "closed_by_server", "rejected", "revoked", "no_viewers", "call_ended", "device_changed", "publisher_gone":
		return r
	}
	return "other"
}
