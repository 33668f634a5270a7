package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgConn connects to the database of url (the caller closes it).
func pgConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// pgTransactions counts the transactions committed or rolled back in the
// database of url so far (PostgreSQL's statistics lag by up to a second).
func pgTransactions(t *testing.T, url string) int64 {
	t.Helper()
	ctx := context.Background()
	conn := pgConn(t, url)
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT pg_stat_force_next_flush()").Scan(new(any)); err != nil {
		t.Log(err)
	}
	if err := conn.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// cpuTime is the user and system CPU time process pid used so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
}

// Measures what a cluster costs (set WISHCAST_CLUSTER_MEASURE=1): the
// database transactions of idle nodes and of a publish, and the CPU a
// node spends pulling one stream for one viewer. Numbers only, no
// assertions; the machine is shared, so they are noisy.
func TestClusterMeasure(t *testing.T) {
	if os.Getenv("WISHCAST_CLUSTER_MEASURE") == "" {
		t.Skip("set WISHCAST_CLUSTER_MEASURE=1 to measure")
	}
	db := postgresStore(t).url
	n1 := startNode(t, "127.0.0.11", db)
	ln, err := net.Listen("tcp", "127.0.0.12:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := ln.Addr().String()
	_ = ln.Close()
	env := []string{"WISHCAST_ICE_LOOPBACK=true", "WISHCAST_ICE_HOST_IPS=127.0.0.1", "WISHCAST_CLUSTER_RENEW=1s", "WISHCAST_CLUSTER_LEASE=4s"}
	for k, v := range clusterEnv(db, addr2) {
		if k != "WISHCAST_CLUSTER_RENEW" && k != "WISHCAST_CLUSTER_LEASE" {
			env = append(env, k+"="+v)
		}
	}
	metricsAddr := os.Getenv("WISHCAST_CLUSTER_MEASURE_METRICS")
	if metricsAddr != "" {
		env = append(env, "WISHCAST_METRICS_LISTEN="+metricsAddr)
	}
	child := startChild(t, t.TempDir(), addr2, env...)
	n2 := &testServer{URL: "http://" + addr2}
	token := signInAs(t, n2.URL, "admin", testAdminPassword)

	const window = 10 * time.Second
	time.Sleep(2 * time.Second)
	tx0 := pgTransactions(t, db)
	time.Sleep(window)
	idle := float64(pgTransactions(t, db)-tx0) / window.Seconds()
	t.Logf("idle: %.1f transactions/s for 2 nodes (node 1 renews every 500ms, node 2 every 1s)", idle)

	const publishes = 20
	tx0 = pgTransactions(t, db)
	start := time.Now()
	for i := range publishes {
		p := startPublisher(t, n1, "live/m"+strconv.Itoa(i), 30)
		if err := p.pc.Close(); err != nil {
			t.Fatal(err)
		}
		p.Stop()
	}
	time.Sleep(7 * time.Second) // the publishers' sessions end (PUBLISHER_GONE)
	el := time.Since(start)
	per := (float64(pgTransactions(t, db)-tx0) - idle*el.Seconds()) / publishes
	t.Logf("per WHIP publish (claimed, then released): %.1f transactions beyond idle", per)

	pub := startPublisher(t, n1, "live/relay", 30)
	_ = pub
	local, _ := firstVideo(t, n1, "live/relay")
	pid := child.Process.Pid
	c0 := cpuTime(t, pid)
	time.Sleep(window)
	base := cpuTime(t, pid) - c0
	v := startViewer(t, n2, "live/relay", "Authorization", "Bearer "+token)
	next(t, v.video, 10*time.Second)
	time.Sleep(time.Second)
	drain(v.video)
	drain(v.audio)
	drain(local.video)
	drain(local.audio)
	c0 = cpuTime(t, pid)
	time.Sleep(window)
	relay := cpuTime(t, pid) - c0
	got := len(v.video) + len(v.audio)
	t.Logf("packets in %s: %d to a viewer on node 1, %d to a viewer on node 2", window, len(local.video)+len(local.audio), got)
	if metricsAddr != "" {
		_, body := do(t, "GET", "http://"+metricsAddr+"/metrics", "")
		for _, l := range strings.Split(body, "\n") {
			if strings.Contains(l, "drop") || strings.Contains(l, "nack") || strings.Contains(l, "lost") || strings.Contains(l, "packets") || strings.Contains(l, "relays") {
				if !strings.HasPrefix(l, "#") {
					t.Log(l)
				}
			}
		}
	}
	t.Logf("node 2 CPU over %s: %s idle, %s pulling one stream for one viewer (%d packets in, as many out: %.0f µs per packet relayed and sent)",
		window, base, relay, got, float64((relay-base).Microseconds())/float64(max(got, 1)))
}
