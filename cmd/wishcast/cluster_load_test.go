package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
)

// pgStatements lists the statements of the database of url that ran
// most since the last reset (pg_stat_statements), with their calls.
func pgStatements(t *testing.T, url string, top int) []string {
	t.Helper()
	ctx := context.Background()
	conn := pgConn(t, url)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT calls, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC LIMIT $1`, top)
	if err != nil {
		t.Logf("pg_stat_statements: %v", err)
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var calls int64
		var q string
		if err := rows.Scan(&calls, &q); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%7d  %.110s", calls, q))
	}
	return out
}

// pgQueries counts the queries clients sent the database of url so far
// (pg_stat_statements, counted as they run): statements other than
// BEGIN, COMMIT and ROLLBACK, and other than the measurement's own.
func pgQueries(t *testing.T, url string) int64 {
	t.Helper()
	ctx := context.Background()
	conn := pgConn(t, url)
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND query !~* '^\s*(begin|commit|rollback)' AND query !~ 'pg_stat'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pgExec runs one statement on the database of url.
func pgExec(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn := pgConn(t, url)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Logf("%s: %v", sql, err)
	}
}

// rawFeeds holds event feeds that read and discard everything, as open
// pages do, so that none falls behind and is dropped.
type rawFeeds struct {
	wg     sync.WaitGroup
	open   atomic.Int64
	cancel []context.CancelFunc
}

// add opens a feed on base with token and waits for its 200.
func (f *rawFeeds) add(t *testing.T, base, token string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("event feed: %d", resp.StatusCode)
	}
	f.cancel = append(f.cancel, cancel)
	f.open.Add(1)
	f.wg.Go(func() {
		defer f.open.Add(-1)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
	})
}

// close ends every feed and waits for their readers.
func (f *rawFeeds) close() {
	for _, c := range f.cancel {
		c()
	}
	f.wg.Wait()
	f.cancel = nil
}

// Measures what people cost PostgreSQL in a cluster (set
// WISHCAST_CLUSTER_MEASURE=1; WISHCAST_CLUSTER_MEASURE_USERS sets how
// many, 1000 by default): three nodes with the default renewal, lease,
// heartbeat and token cache; queries per sign-in, per WHEP viewer
// session, per page opening and closing the app, and per second for the
// users online (their event feeds spread over the three nodes), from
// pg_stat_statements (which also lists the statements behind them), and
// transactions from pg_stat_database. Numbers only, no assertions.
func TestClusterMeasureUsers(t *testing.T) {
	if os.Getenv("WISHCAST_CLUSTER_MEASURE") == "" {
		t.Skip("set WISHCAST_CLUSTER_MEASURE=1 to measure")
	}
	users := 1000
	if v, err := strconv.Atoi(os.Getenv("WISHCAST_CLUSTER_MEASURE_USERS")); err == nil && v > 0 {
		users = v
	}
	db := postgresStore(t).url
	pgExec(t, db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	defaults := []string{"WISHCAST_CLUSTER_RENEW", "1s", "WISHCAST_CLUSTER_LEASE", "4s", "WISHCAST_PRESENCE_GRACE", "3s",
		"WISHCAST_LOGIN_MAX_FAILURES", "1000000"}
	nodes := []*testServer{startNode(t, "127.0.0.11", db, defaults...), startNode(t, "127.0.0.12", db, defaults...),
		startNode(t, "127.0.0.13", db, defaults...)}

	// Accounts, made before anything is measured.
	ctx := context.Background()
	names := make([]string, users)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				names[i] = "u" + strconv.Itoa(i)
				if _, err := nodes[0].accounts.CreateUser(ctx, auth.NewUser{Name: names[i], Password: "password-" + names[i]}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range users {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}

	// load is the queries and transactions so far.
	type load struct{ q, x float64 }
	now := func() load { return load{float64(pgQueries(t, db)), float64(pgTransactions(t, db))} }
	// rate measures the queries and transactions per second over d.
	rate := func(d time.Duration) load {
		a := now()
		time.Sleep(d)
		b := now()
		return load{(b.q - a.q) / d.Seconds(), (b.x - a.x) / d.Seconds()}
	}
	// cost runs f and returns the queries it took beyond base per second
	// (waiting settle after it for deferred writes), and the transactions
	// (which pg_stat_database may count up to seconds late).
	cost := func(base load, settle time.Duration, f func()) load {
		a := now()
		start := time.Now()
		f()
		time.Sleep(settle)
		b := now()
		el := time.Since(start).Seconds()
		return load{b.q - a.q - base.q*el, b.x - a.x - base.x*el}
	}
	top := func(what string) {
		for _, l := range pgStatements(t, db, 12) {
			t.Logf("  %s: %s", what, l)
		}
		pgExec(t, db, "SELECT pg_stat_statements_reset()")
	}

	time.Sleep(3 * time.Second)
	pgExec(t, db, "SELECT pg_stat_statements_reset()")
	idle := rate(20 * time.Second)
	t.Logf("idle, 3 nodes (renewal 1s): %.1f queries/s, %.1f transactions/s", idle.q, idle.x)
	top("idle 20s")

	// Sign-ins over HTTP, spread over the nodes.
	tokens := make([]string, users)
	signIns := cost(idle, 2*time.Second, func() {
		work := make(chan int)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := range work {
					tokens[i] = signInAs(t, nodes[i%3].URL, names[i], "password-"+names[i])
				}
			})
		}
		for i := range users {
			work <- i
		}
		close(work)
		wg.Wait()
	})
	t.Logf("sign-in: %.2f queries each, %.2f transactions (%d sign-ins)", signIns.q/float64(users), signIns.x/float64(users), users)
	top("sign-ins")

	// WHEP viewer sessions of a stream published on node 1: on node 1
	// itself, and on nodes 2 and 3 (the first there starts a relay).
	const viewers = 30
	startPublisher(t, nodes[0], "live/load", 30)
	time.Sleep(2 * time.Second)
	base := rate(5 * time.Second)
	var vs []*viewer
	viewing := cost(base, 2*time.Second, func() {
		for i := range viewers {
			v := startViewer(t, nodes[i%3], "live/load", bearer(tokens[i])...)
			next(t, v.video, 10*time.Second)
			vs = append(vs, v)
		}
	})
	t.Logf("WHEP viewer session (set up, first video): %.2f queries each, %.2f transactions (%d viewers, 2 relays among them)", viewing.q/viewers, viewing.x/viewers, viewers)
	top("viewer sessions")
	ending := cost(base, 3*time.Second, func() {
		for i, v := range vs {
			resp, body := do(t, http.MethodDelete, nodes[i%3].URL+v.location, "", bearer(tokens[i])...)
			wantStatus(t, "end a viewer", resp, body, http.StatusOK)
		}
	})
	t.Logf("WHEP viewer session ended: %.2f queries each, %.2f transactions", ending.q/viewers, ending.x/viewers)
	top("viewer sessions ended")

	// Pages opening the app: an event feed each, spread over the nodes,
	// at about 100 a second.
	time.Sleep(3 * time.Second)
	base = rate(5 * time.Second)
	var feeds rawFeeds
	defer feeds.close()
	tick := time.NewTicker(10 * time.Millisecond)
	opening := cost(base, 5*time.Second, func() {
		for i := range users {
			<-tick.C
			feeds.add(t, nodes[i%3].URL, tokens[i])
		}
	})
	tick.Stop()
	t.Logf("page opening the app (event feed, online on every node): %.2f queries each, %.2f transactions (%d at 100/s)", opening.q/float64(users), opening.x/float64(users), users)
	top("feeds opening")

	const window = 60 * time.Second // four heartbeats of 15 s
	online := rate(window)
	if n := feeds.open.Load(); n != int64(users) {
		t.Errorf("%d feeds open at the end of the window, want %d", n, users)
	}
	per := func(v, idle float64) float64 { return (v - idle) * 1000 / float64(users) }
	t.Logf("%d users online (feeds over 3 nodes), steady over %s: %.1f queries/s (%.1f per 1,000 online beyond idle), %.1f transactions/s (%.1f per 1,000)",
		users, window, online.q, per(online.q, idle.q), online.x, per(online.x, idle.x))
	top(fmt.Sprintf("%d online, %s", users, window))
	for i, n := range nodes {
		t.Logf("node %d: %.0f feeds, %.0f users online here", i+1, gauge(t, n, "wishcast_event_feeds"), gauge(t, n, "wishcast_users_online"))
	}

	leaving := cost(base, 6*time.Second, feeds.close)
	t.Logf("page closing (offline after PRESENCE_GRACE on every node): %.2f queries each, %.2f transactions", leaving.q/float64(users), leaving.x/float64(users))
	top("feeds closing")
}
