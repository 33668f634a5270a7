package cluster

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A renewal whose lease was renewed but whose bookkeeping failed (here:
// writing who watches whom) is not a lease failure: the counter that
// the cluster's alert watches stays at zero, and the steps after the
// failed one still run, so this node still learns which node holds a
// stream it follows.
func TestRenewalBookkeepingFailureIsNoLeaseFailure(t *testing.T) {
	url := pg.Database(t)
	ctx := context.Background()
	b, _ := openNode(t, url, "b")
	// Node a cannot write its viewers: a trigger refuses its rows.
	for _, q := range []string{
		`CREATE FUNCTION refuse_a() RETURNS trigger AS $$ BEGIN
			IF NEW.node_id = 'a' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
		`CREATE TRIGGER refuse_a BEFORE INSERT ON cluster_watchers FOR EACH ROW EXECUTE FUNCTION refuse_a()`,
	} {
		if _, err := b.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	m := NewMetrics(prometheus.NewRegistry(), "a", nil)
	cfg := Config{NodeURL: "http://a:8080", Secret: strings.Repeat("s", 32), NodeID: "a", Lease: time.Second, Renew: 200 * time.Millisecond}
	a, err := OpenDirectory(ctx, cfg, url, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.watching = func() map[string][]string { return map[string][]string{"alice": {"bob"}} }
	unwatch := a.watchHolder("live/x")
	defer unwatch()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })

	release, err := b.Claim(ctx, "live/x", KindPublisher)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if node, known := a.holderOf("live/x", 0); known && node == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node a never learnt that b holds live/x while its viewers could not be written")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.leaseFailures); got != 0 {
		t.Fatalf("%v lease failures counted, though every lease was renewed", got)
	}
}
