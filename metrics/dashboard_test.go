package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wishcast/wishcast/cluster"
)

// exposed returns every metric name the registry can expose, histogram
// series included, from the collectors' descriptions.
func exposed(t *testing.T, m *Metrics) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 1024)
	go func() {
		m.Registry().Describe(ch)
		close(ch)
	}()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{"up": true} // Prometheus' own
	for d := range ch {
		if g := name.FindStringSubmatch(d.String()); g != nil {
			out[g[1]] = true
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				out[g[1]+suffix] = true
			}
		}
	}
	return out
}

// queried returns the metric names an expression text uses.
func queried(expr string) []string {
	return regexp.MustCompile(`\b(?:wishcast|process|go)_[a-z0-9_]+\b|\bup\b`).FindAllString(expr, -1)
}

// The Grafana dashboard parses and queries only metrics wishcast exposes
// (a node of a cluster included); so do the Prometheus alert rules.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	m := newTest(t)
	// A node of a cluster adds the cluster's collectors (cluster row).
	cluster.NewMetrics(m.Registry(), "test", nil)
	have := exposed(t, m)
	raw, err := os.ReadFile("../deploy/grafana/wishcast.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs++
			for _, n := range queried(tg.Expr) {
				if !have[n] {
					t.Errorf("panel %q queries %s, which wishcast does not expose", p.Title, n)
				}
			}
		}
	}
	if exprs < 20 {
		t.Fatalf("dashboard has only %d queries", exprs)
	}
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, n := range queried(line) {
			if !have[n] && !strings.Contains(line, "summary") && !strings.Contains(line, "description") {
				t.Errorf("alert rule uses %s, which wishcast does not expose: %s", n, strings.TrimSpace(line))
			}
		}
	}
}
