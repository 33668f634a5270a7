package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wishcast/wishcast/transcode"
)

// transcodeCollector reads the FFmpeg transcodes' counters when scraped.
type transcodeCollector struct {
	m                                *transcode.Manager
	running, started, restarts, cpuS *prometheus.Desc
}

func newTranscodeCollector(m *transcode.Manager) *transcodeCollector {
	return &transcodeCollector{
		m:        m,
		running:  prometheus.NewDesc("wishcast_transcodes_running", "FFmpeg transcodes running now (one per source and target codec, shared by its viewers).", nil, nil),
		started:  prometheus.NewDesc("wishcast_transcodes_started_total", "Transcodes started for a first viewer.", nil, nil),
		restarts: prometheus.NewDesc("wishcast_transcode_restarts_total", "FFmpeg processes started again after one ended or stalled.", nil, nil),
		cpuS:     prometheus.NewDesc("wishcast_transcode_cpu_seconds_total", "CPU time (user and system) used by FFmpeg transcodes.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *transcodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.running
	ch <- c.started
	ch <- c.restarts
	ch <- c.cpuS
}

// Collect implements prometheus.Collector.
func (c *transcodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Stats()
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(s.Running))
	ch <- prometheus.MustNewConstMetric(c.started, prometheus.CounterValue, float64(s.Started))
	ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(s.Restarts))
	ch <- prometheus.MustNewConstMetric(c.cpuS, prometheus.CounterValue, s.CPUSeconds)
}
