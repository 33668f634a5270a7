package main

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// viewersAre matches a watchers event listing exactly who.
func viewersAre(who ...string) func(sseEvent) bool {
	return func(e sseEvent) bool {
		got, _ := e.Data["viewers"].([]any)
		want := make([]any, len(who))
		for i, w := range who {
			want[i] = w
		}
		return slices.Equal(got, want)
	}
}

// helloWatchers returns the watchers of a hello event.
func helloWatchers(e sseEvent) []any {
	w, _ := e.Data["watchers"].([]any)
	return w
}

// A person's pages hear who watches them on every node: Bob's page on
// node 3 publishes to node 2, Alice watches from node 1 and Carol from
// node 2, and Bob's pages (an open one on node 3, new ones on nodes 2
// and 3) list both, in watchers events and in hello; when Alice leaves,
// and when a node with a viewer of Bob dies, his pages hear that too.
func TestClusterWatchers(t *testing.T) {
	db := postgresStore(t).url
	n1, n2, n3 := startNode(t, "127.0.0.11", db), startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	alice, bob, carol, dave := tokenFor(t, n1, "alice"), tokenFor(t, n1, "bob"), tokenFor(t, n1, "carol"), tokenFor(t, n1, "dave")
	bobFeed := openFeed(t, n3, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	eventually(t, 5*time.Second, "node 1 to see Bob online on node 3", func() bool {
		return slices.Contains(n1.cluster.OnlineElsewhere(), "bob")
	})

	answer := startViewerAsync(t, n1, "users/bob", bearer(alice)...)
	bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	startPublisher(t, n2, "users/bob", 30, bearer(bob)...)
	a := answer()
	next(t, a.video, 5*time.Second)
	c := startViewer(t, n2, "users/bob", bearer(carol)...)
	next(t, c.video, 5*time.Second)
	start := time.Now()
	bobFeed.wait(t, "watchers", 5*time.Second, viewersAre("alice", "carol"))
	t.Logf("Bob's page on node 3 lists his viewers on nodes 1 and 2 %s after the second came", time.Since(start).Round(time.Millisecond))

	for _, n := range []*testServer{n2, n3} {
		hello := openFeed(t, n, bob, "").wait(t, "hello", 5*time.Second, nil)
		if w := helloWatchers(hello); !slices.Equal(w, []any{"alice", "carol"}) {
			t.Errorf("hello of a page of Bob's opened on %s lists watchers %v, want alice and carol", n.URL, w)
		}
	}

	resp, body := do(t, http.MethodDelete, n1.URL+a.location, "", bearer(alice)...)
	wantStatus(t, "alice leaves", resp, body, http.StatusOK)
	bobFeed.wait(t, "watchers", 5*time.Second, viewersAre("carol"))

	// Dave watches from node 1, which then dies: within its lease and a
	// repair, Bob's page no longer lists him.
	d := startViewer(t, n1, "users/bob", bearer(dave)...)
	next(t, d.video, 5*time.Second)
	bobFeed.wait(t, "watchers", 5*time.Second, viewersAre("carol", "dave"))
	n1.cluster.Kill()
	start = time.Now()
	bobFeed.wait(t, "watchers", 10*time.Second, viewersAre("carol"))
	t.Logf("a dead node's viewer left Bob's list %s after it died (lease 2s, renewal 500ms)", time.Since(start).Round(time.Millisecond))
	if w := helloWatchers(openFeed(t, n3, bob, "").wait(t, "hello", 5*time.Second, nil)); !slices.Equal(w, []any{"carol"}) {
		t.Errorf("hello after node 1 died lists watchers %v, want carol", w)
	}
}
