package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wishcast/wishcast/internal/pgtest"
	"github.com/wishcast/wishcast/stream"
)

var pg = pgtest.New(pgtest.Options{Required: os.Getenv("CI") != ""})

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

// The streams held are counted once each, a renewal that fails is
// counted, and the node's metrics say it is up until it leaves.
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
	// A stream claimed twice here (a camera with two local users) is one
	// stream held, until its last claim goes.
	cam1, err := d.Claim(ctx, "devices/cam", KindCamera)
	if err != nil {
		t.Fatal(err)
	}
	cam2, err := d.Claim(ctx, "devices/cam", KindCamera)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.streamsHeld); got != 2 {
		t.Errorf("streams held %v with a camera claimed twice, want 2", got)
	}
	cam1()
	if got := testutil.ToFloat64(m.streamsHeld); got != 2 {
		t.Errorf("streams held %v with the camera still claimed once, want 2", got)
	}
	cam2()
	if got := testutil.ToFloat64(m.streamsHeld); got != 1 {
		t.Errorf("streams held %v after the camera's last claim, want 1", got)
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

// A stalled database neither hangs a publish nor holds up claims of
// other streams: a claim gives up within claimTimeout, and an entry
// whose removal is stuck does not block this node's next claim.
func TestStalledDirectory(t *testing.T) {
	url := pg.Database(t)
	open := func(id string) *Directory {
		cfg := Config{NodeURL: "http://" + id + ":8080", NodeID: id, Lease: 6 * time.Second, Renew: time.Second}
		d, err := OpenDirectory(context.Background(), cfg, url, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}
	a, b := open("a"), open("b")
	ctx := context.Background()
	release, err := a.Claim(ctx, "live/slow", KindPublisher)
	if err != nil {
		t.Fatal(err)
	}

	// Another session locks the entry, as a stuck transaction would.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM cluster_streams WHERE stream = 'live/slow' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() { defer close(released); release() }()
	t.Cleanup(func() { _ = tx.Rollback(context.Background()); <-released })
	time.Sleep(300 * time.Millisecond) // the removal is waiting on the lock

	start := time.Now()
	rel, err := a.Claim(ctx, "live/other", KindPublisher)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a claim of another stream waited %s for a stuck removal", d)
	}
	rel()

	start = time.Now()
	_, err = b.Claim(ctx, "live/slow", KindPublisher)
	d := time.Since(start)
	if !errors.Is(err, stream.ErrSourceUnavailable) {
		t.Errorf("claim on a stalled entry: %v, want unavailable", err)
	}
	if d > claimTimeout+2*time.Second {
		t.Errorf("claim on a stalled entry took %s", d)
	}
	t.Logf("claim on a stalled entry gave up after %s (machine shared, timings noisy)", d.Round(10*time.Millisecond))
}
