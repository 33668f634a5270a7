package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wishcast/wishcast/internal/pgtest"
	"github.com/wishcast/wishcast/stream"
)

var pg = pgtest.New(pgtest.Options{})

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// openNode opens the directory of node id on url with short leases.
func openNode(t *testing.T, url, id string) (*Directory, context.CancelFunc) {
	t.Helper()
	cfg := Config{NodeURL: "http://" + id + ":8080", Secret: strings.Repeat("s", 32), NodeID: id, Lease: time.Second, Renew: 200 * time.Millisecond}
	d, err := OpenDirectory(context.Background(), cfg, url, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(func() { stop(); d.Close() })
	return d, stop
}

// One holder per stream across nodes: a second node's claim fails as a
// publisher here does, until the first releases it or stops renewing;
// a halted node's entries leave within the lease.
func TestDirectoryClaims(t *testing.T) {
	url := pg.Database(t)
	a, _ := openNode(t, url, "a")
	b, _ := openNode(t, url, "b")
	ctx := context.Background()

	release, err := a.Claim(ctx, "live/x", KindPublisher)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Claim(ctx, "live/x", KindPublisher)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.Node != "a" || !errors.Is(err, stream.ErrPublisherExists) {
		t.Fatalf("claim on b while a holds it: %v", err)
	}
	// Leases are renewed: still held well after one lease.
	time.Sleep(1500 * time.Millisecond)
	if h, ok, err := b.Lookup(ctx, "live/x"); err != nil || !ok || h.Node != "a" || h.URL != "http://a:8080" || h.Kind != KindPublisher {
		t.Fatalf("lookup after a lease: %+v %v %v", h, ok, err)
	}
	// A second local claim keeps the entry when the first is released.
	again, err := a.Claim(ctx, "live/x", KindPublisher)
	if err != nil {
		t.Fatal(err)
	}
	release()
	release()
	if _, ok, _ := b.Lookup(ctx, "live/x"); !ok {
		t.Fatal("entry gone while a still holds a claim")
	}
	again()
	if _, ok, _ := b.Lookup(ctx, "live/x"); ok {
		t.Fatal("entry still there after the last release")
	}
	relB, err := b.Claim(ctx, "live/x", KindPublisher)
	if err != nil {
		t.Fatalf("claim on b after a released: %v", err)
	}
	relB()

	if _, err := a.Claim(ctx, "devices/cam", KindCamera); err != nil {
		t.Fatal(err)
	}
	a.Halt()
	start := time.Now()
	for {
		_, ok, err := b.Lookup(ctx, "devices/cam")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("a halted node's entry outlived its lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("entry gone %s after the node halted (lease 1s)", time.Since(start).Round(10*time.Millisecond))
	if _, ok, _ := b.NodeURL(ctx, "a"); ok {
		t.Error("a halted node is still in the node list")
	}
	if u, ok, _ := a.NodeURL(ctx, "b"); !ok || u != "http://b:8080" {
		t.Errorf("node b: %q %v", u, ok)
	}
	rel, err := b.Claim(ctx, "devices/cam", KindCamera)
	if err != nil {
		t.Fatalf("claim of a dead node's camera: %v", err)
	}
	rel()
}

// A renewal that fails is counted, and the node's metrics say it is up
// until it leaves.
func TestLeaseFailuresCounted(t *testing.T) {
	url := pg.Database(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, "a", nil)
	cfg := Config{NodeURL: "http://a:8080", NodeID: "a", Lease: time.Second, Renew: 100 * time.Millisecond}
	d, err := OpenDirectory(context.Background(), cfg, url, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	if _, err := d.Claim(ctx, "live/x", KindPublisher); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.streamsHeld); got != 1 {
		t.Errorf("streams held %v, want 1", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := testutil.ToFloat64(m.leaseFailures); got != 0 {
		t.Fatalf("%v lease failures before the table went", got)
	}
	if _, err := d.pool.Exec(ctx, "DROP TABLE cluster_streams"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(m.leaseFailures) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("failed renewals not counted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	m.down()
	if got := testutil.ToFloat64(m.up); got != 0 {
		t.Errorf("node up %v after leaving", got)
	}
}
