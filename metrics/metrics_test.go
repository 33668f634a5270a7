package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"

	"github.com/wishcast/wishcast/stream"
	"github.com/wishcast/wishcast/transcode"
)

// newTest returns metrics watching a real hub with one live stream, after
// one of every observer event and one HTTP request.
func newTest(t *testing.T) *Metrics {
	t.Helper()
	m := New(Config{DeviceLabels: true}, "test")
	hub := stream.NewHub(stream.Config{}, nil)
	t.Cleanup(hub.Close)
	hub.SetObserver(m)
	pub, err := hub.Publish("live/a", []stream.TrackInfo{{Kind: stream.Audio, Codec: stream.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	tc := transcode.New(transcode.Config{}, hub, nil)
	t.Cleanup(tc.Close)
	m.Watch(Sources{Hub: hub, Transcodes: tc})
	m.SessionCreated("whip")
	m.SessionConnected("whip", 120*time.Millisecond)
	m.SessionMedia("whep", 300*time.Millisecond)
	m.SessionClosed("whep", "deleted", true)
	m.SessionClosed("whep", "something new", false)
	m.SessionRefused("whep")
	m.KeyframeRequest("pli")
	m.Nack(3)
	m.ReceiverReport(0.02, 4*time.Millisecond)
	m.OnDemandStarted("devices/door")
	m.OnDemandLive("devices/door", 700*time.Millisecond)
	m.OnDemandFailed("users/bob", nil)
	m.OnDemandTimedOut("users/bob")
	m.CallSetup(2 * time.Second)
	m.StreamEnded("live/a", 4)
	r := chi.NewRouter()
	r.Use(m.HTTP)
	r.Get("/whep/*", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusConflict) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/whep/users/secret-name", nil))
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere/abc", nil))
	return m
}

// The exposition passes the Prometheus linter: names, units, suffixes and
// HELP text.
func TestExpositionLints(t *testing.T) {
	m := newTest(t)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "wishcast_") && len(mf.GetHelp()) < 20 {
			t.Errorf("%s: HELP %q says too little", mf.GetName(), mf.GetHelp())
		}
	}
}

// What was observed shows, with bounded label values: the route pattern,
// never the path a client sent; unknown reasons folded into "other".
func TestObservedValues(t *testing.T) {
	m := newTest(t)
	for _, c := range []struct {
		name, want string
	}{
		{"wishcast_http_requests_total", `wishcast_http_requests_total{code="4xx",route="/whep/*"} 1`},
		{"wishcast_http_requests_total", `wishcast_http_requests_total{code="4xx",route="unmatched"} 1`},
		{"wishcast_sessions_closed_total", `wishcast_sessions_closed_total{connected="false",direction="view",reason="other"} 1`},
		{"wishcast_streams_live", `wishcast_streams_live{namespace="live"} 1`},
		{"wishcast_ondemand_start_seconds", `wishcast_ondemand_start_seconds_count{namespace="devices"} 1`},
		{"wishcast_viewer_nacked_packets_total", `wishcast_viewer_nacked_packets_total 3`},
	} {
		got, err := testutil.CollectAndFormat(m.Registry(), expfmt.TypeTextPlain, c.name)
		if err != nil || !strings.Contains(string(got), c.want) {
			t.Errorf("%s: want %q in\n%s (%v)", c.name, c.want, got, err)
		}
	}
	text := gatherText(t, m)
	if strings.Contains(text, "secret-name") || strings.Contains(text, "something new") {
		t.Fatalf("a client-supplied value became a label:\n%s", text)
	}
}

// gatherText is the whole exposition as text.
func gatherText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}
