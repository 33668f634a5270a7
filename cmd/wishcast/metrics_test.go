package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape parses the server's /metrics with the Prometheus text parser.
func scrape(t *testing.T, ts *testServer) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	ts.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	text := rec.Body.String()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams, text
}

// value is the sum of a family's samples whose labels include want
// (counters and gauges; histograms give their count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	mf := fams[name]
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// A publish, view and delete cycle moves the counters and histograms it
// should, and no label value carries a token or a session id.
func TestMetricsAfterPublishViewDelete(t *testing.T) {
	ts := newTestServer(t)
	before, _ := scrape(t, ts)
	pub := startPublisher(t, ts, "live/m", 30)
	v := startViewer(t, ts, "live/m")
	next(t, v.video, 5*time.Second)
	eventually(t, 5*time.Second, "packets out to be counted", func() bool {
		f, _ := scrape(t, ts)
		return value(f, "wishcast_rtp_packets_total", map[string]string{"direction": "out"}) > 0
	})
	eventually(t, 5*time.Second, "the viewer's RTCP receiver reports to be counted", func() bool {
		f, _ := scrape(t, ts)
		return value(f, "wishcast_viewer_loss_ratio", nil) > 0 && value(f, "wishcast_viewer_jitter_seconds", nil) > 0
	})
	mid, _ := scrape(t, ts)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"wishcast_sessions_created_total", map[string]string{"direction": "publish"}},
		{"wishcast_sessions_created_total", map[string]string{"direction": "view"}},
		{"wishcast_sessions_connected_total", map[string]string{"direction": "view"}},
		{"wishcast_session_connect_seconds", map[string]string{"direction": "publish"}},
		{"wishcast_session_first_media_seconds", map[string]string{"direction": "view"}},
		{"wishcast_rtp_packets_total", map[string]string{"direction": "in"}},
		{"wishcast_rtp_payload_bytes_total", map[string]string{"direction": "out"}},
		{"wishcast_http_requests_total", map[string]string{"route": "/whep/*", "code": "2xx"}},
		// The viewer's media leaves in the fan-out's batches.
		{"wishcast_ice_udp_send_batches_total", nil},
		{"wishcast_ice_udp_sent_datagrams_total", map[string]string{"how": "batched"}},
	} {
		if value(mid, c.name, c.labels) <= value(before, c.name, c.labels) {
			t.Errorf("%s%v did not grow", c.name, c.labels)
		}
	}
	if got := value(mid, "wishcast_sessions_active", map[string]string{"direction": "view", "state": "connected"}); got != 1 {
		t.Errorf("active connected viewers: %v", got)
	}
	if got := value(mid, "wishcast_streams_live", map[string]string{"namespace": "live"}); got != 1 {
		t.Errorf("live streams: %v", got)
	}
	if got := value(mid, "wishcast_ice_udp_send_errors_total", nil); got != 0 {
		t.Errorf("send errors: %v", got)
	}

	if resp, _ := do(t, http.MethodDelete, ts.URL+v.location, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	pub.Stop()
	after, text := scrape(t, ts)
	if value(after, "wishcast_sessions_closed_total", map[string]string{"direction": "view", "reason": "deleted", "connected": "true"}) != 1 {
		t.Errorf("closed viewer not counted as deleted:\n%s", grep(text, "wishcast_sessions_closed_total"))
	}
	if got := value(after, "wishcast_sessions_active", map[string]string{"direction": "view"}); got != 0 {
		t.Errorf("viewer still active: %v", got)
	}
	for _, secret := range []string{ts.AdminToken, strings.TrimPrefix(v.location, "/sessions/"), strings.TrimPrefix(pub.location, "/sessions/")} {
		if strings.Contains(text, secret) {
			t.Fatalf("/metrics contains a token or session id %q", secret)
		}
	}
}

// grep returns the lines of text containing s.
func grep(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
