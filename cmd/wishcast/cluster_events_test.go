package main

import (
	"strings"
	"testing"
	"time"
)

// idPrefix is an event id without its number: the node and epoch that
// sent it.
func idPrefix(id string) string {
	return id[:max(0, strings.LastIndexByte(id, '-'))]
}

// A page whose feed was on node 1 reconnects to node 2 (a load balancer
// sent it elsewhere) with node 1's last event id: node 2 fetches what the
// page missed from node 1, then its own events follow. Once node 1 is
// killed, a page resuming after its id gets a hello that tells it to
// resynchronise instead.
func TestClusterFeedResume(t *testing.T) {
	db := postgresStore(t).url
	n1, child := startChildNode(t, db)
	n2, n3 := startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	alice, bob, carol, dave := tokenFor(t, n2, "alice"), tokenFor(t, n2, "bob"), tokenFor(t, n2, "carol"), tokenFor(t, n2, "dave")
	online := func(user string, on bool) func(sseEvent) bool {
		return func(e sseEvent) bool { return e.Data["user"] == user && e.Data["online"] == on }
	}

	aliceFeed := openFeed(t, n1, alice, "")
	aliceFeed.wait(t, "hello", 5*time.Second, nil)
	// Dave's page on node 1 shows what node 1 says while Alice is away.
	daveFeed := openFeed(t, n1, dave, "")
	daveFeed.wait(t, "hello", 5*time.Second, nil)
	carolFeed := openFeed(t, n3, carol, "")
	last := aliceFeed.wait(t, "presence", 5*time.Second, online("carol", true))
	n1Prefix := idPrefix(last.ID)
	if n1Prefix == "" || !strings.Contains(n1Prefix, ".") {
		t.Fatalf("node 1's event id %q names no node", last.ID)
	}

	// Alice's page loses its connection; meanwhile Bob comes and goes.
	aliceFeed.close()
	bobFeed := openFeed(t, n3, bob, "")
	daveFeed.wait(t, "presence", 5*time.Second, online("bob", true))
	bobFeed.close()
	daveFeed.wait(t, "presence", 5*time.Second, online("bob", false))

	start := time.Now()
	again := openFeed(t, n2, alice, last.ID)
	if h := again.wait(t, "hello", 5*time.Second, nil); h.Data["resync"] != nil {
		t.Fatalf("hello on node 2 after node 1's id asks to resync: %+v", h.Data)
	}
	for _, on := range []bool{true, false} {
		ev := again.wait(t, "presence", 5*time.Second, online("bob", on))
		if idPrefix(ev.ID) != n1Prefix {
			t.Errorf("bob online=%v replayed on node 2 with id %q, want node 1's (%s-N)", on, ev.ID, n1Prefix)
		}
	}
	t.Logf("reconnect to node 2 after node 1's event: missed events replayed in %s", time.Since(start).Round(time.Millisecond))
	// Then node 2's own events, with node 2's ids.
	carolFeed.close()
	ev := again.wait(t, "presence", 5*time.Second, online("carol", false))
	n2Prefix := idPrefix(ev.ID)
	if n2Prefix == n1Prefix || !strings.Contains(n2Prefix, ".") {
		t.Errorf("node 2's live event id %q, node 1's %q: not told apart", ev.ID, last.ID)
	}
	again.close()

	// Node 2's ids resume on node 3 as well.
	onN3 := openFeed(t, n3, alice, ev.ID)
	if h := onN3.wait(t, "hello", 5*time.Second, nil); h.Data["resync"] != nil {
		t.Errorf("hello on node 3 after node 2's id asks to resync: %+v", h.Data)
	}
	onN3.close()

	// Node 1 dies: what Alice missed there is lost, and she is told so.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	gone := openFeed(t, n3, alice, last.ID)
	h := gone.wait(t, "hello", 5*time.Second, nil)
	if h.Data["resync"] != true {
		t.Fatalf("hello after the id of a killed node: %+v, want resync", h.Data)
	}
	t.Logf("reconnect after the id of a killed node: resync hello in %s", time.Since(start).Round(time.Millisecond))
	select {
	case e := <-gone.events:
		if idPrefix(e.ID) == n1Prefix {
			t.Errorf("an event of the killed node arrived: %+v", e)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

// On one node, a page resuming after an id the server cannot resume
// from (from before a restart) gets a hello that tells it to
// resynchronise; after one of its ids it does not.
func TestFeedResync(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	f := openFeed(t, ts, alice, "")
	f.wait(t, "hello", 5*time.Second, nil)
	openFeed(t, ts, bob, "")
	ev := f.wait(t, "presence", 5*time.Second, func(e sseEvent) bool { return e.Data["user"] == "bob" })
	f.close()
	if h := openFeed(t, ts, alice, ev.ID).wait(t, "hello", 5*time.Second, nil); h.Data["resync"] != nil {
		t.Errorf("hello after the server's own id: %+v", h.Data)
	}
	if h := openFeed(t, ts, alice, "before-a-restart-7").wait(t, "hello", 5*time.Second, nil); h.Data["resync"] != true {
		t.Errorf("hello after an unknown id: %+v, want resync", h.Data)
	}
}
