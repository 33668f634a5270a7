package main

import (
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// clusterCallSettings are the call timers of the cluster call tests:
// short, so that a test sees a call ring out or drop within seconds.
var clusterCallSettings = []string{
	"WISHCAST_CALL_RING_TIMEOUT", "3s",
	"WISHCAST_CALL_DROP_GRACE", "1500ms",
	"WISHCAST_ON_DEMAND_TIMEOUT", "8s",
}

// callPage is where one participant's page is: its event feed, where it
// publishes and where it views the other participant.
type callPage struct {
	user        string
	token       string
	feed        *eventFeed
	feedNode    *testServer
	publishNode *testServer
	viewNode    *testServer
}

// callSessions are the four sessions of a call, by participant.
type callSessions struct {
	id                     string
	callerPub, calleePub   *publisher
	callerView, calleeView *viewer
}

// locations lists the four sessions' resources.
func (s callSessions) locations() []string {
	return []string{s.callerPub.location, s.calleePub.location, s.callerView.location, s.calleeView.location}
}

// callUp has caller call callee, who accepts at once; each page then
// publishes its stream and views the other's, as the app does. It
// returns the sessions once both directions carry video, and how long
// that took from the accept.
func callUp(t *testing.T, caller, callee callPage) (callSessions, time.Duration) {
	t.Helper()
	status, c := postJSON(t, caller.feedNode, caller.token, http.MethodPost, "/api/v1/calls", `{"callee":"`+callee.user+`"}`)
	if status != http.StatusCreated || c["state"] != "ringing" {
		t.Fatalf("place: %d %+v", status, c)
	}
	id := c["id"].(string)
	s := callSessions{id: id}
	// The caller's page publishes and starts viewing at once; its WHEP
	// waits for the callee's stream.
	s.callerPub = startPublisher(t, caller.publishNode, "calls/"+id+"/"+caller.user, 30, bearer(caller.token)...)
	callerView := startViewerAsync(t, caller.viewNode, "calls/"+id+"/"+callee.user, bearer(caller.token)...)
	ev := callee.feed.wait(t, "call-incoming", 5*time.Second, nil)
	if callOf(ev)["id"] != id || callOf(ev)["caller"] != caller.user {
		t.Fatalf("call-incoming: %+v", ev.Data)
	}
	start := time.Now()
	if status, c := postJSON(t, callee.feedNode, callee.token, http.MethodPost, "/api/v1/calls/"+id+"/accept", ""); status != http.StatusOK || c["state"] != "active" {
		t.Fatalf("accept: %d %+v", status, c)
	}
	caller.feed.wait(t, "call-accepted", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id })
	s.calleePub = startPublisher(t, callee.publishNode, "calls/"+id+"/"+callee.user, 30, bearer(callee.token)...)
	s.calleeView = startViewer(t, callee.viewNode, "calls/"+id+"/"+caller.user, bearer(callee.token)...)
	s.callerView = callerView()
	next(t, s.callerView.video, 10*time.Second)
	next(t, s.calleeView.video, 10*time.Second)
	took := time.Since(start)
	for range 10 { // media keeps flowing both ways
		next(t, s.callerView.video, 5*time.Second)
		next(t, s.calleeView.video, 5*time.Second)
	}
	return s, took
}

// sessionsGone waits until none of the call's sessions runs on any of
// nodes, then checks that a DELETE of each, through any node, is a 404.
func sessionsGone(t *testing.T, s callSessions, token string, nodes ...*testServer) {
	t.Helper()
	for _, loc := range s.locations() {
		id := strings.TrimPrefix(loc, "/sessions/")
		eventually(t, 5*time.Second, "session "+id+" to end", func() bool {
			for _, n := range nodes {
				if n.sessions.Get(id) != nil {
					return false
				}
			}
			return true
		})
		for _, n := range nodes {
			resp, body := do(t, http.MethodDelete, n.URL+loc, "", bearer(token)...)
			wantStatus(t, "DELETE of an ended call's session through "+n.URL, resp, body, http.StatusNotFound)
		}
	}
}

// A call between Alice, whose page is on node 1, and Bob, whose page is
// on node 3, both publishing to node 2: Bob's page rings, he answers on
// node 3, video flows both ways through the relays (each views on their
// own node), and a hang-up from either side, through any node, ends all
// four sessions and tells both pages. The time from the accept to both
// sides' first frame is logged next to the same call on one node.
func TestClusterCall(t *testing.T) {
	db := postgresStore(t).url
	n1 := startNode(t, "127.0.0.11", db, clusterCallSettings...)
	n2 := startNode(t, "127.0.0.12", db, clusterCallSettings...)
	n3 := startNode(t, "127.0.0.13", db, clusterCallSettings...)
	alice, bob := tokenFor(t, n1, "alice"), tokenFor(t, n1, "bob")
	a := callPage{user: "alice", token: alice, feed: openFeed(t, n1, alice, ""), feedNode: n1, publishNode: n2, viewNode: n1}
	b := callPage{user: "bob", token: bob, feed: openFeed(t, n3, bob, ""), feedNode: n3, publishNode: n2, viewNode: n3}
	a.feed.wait(t, "hello", 5*time.Second, nil)
	b.feed.wait(t, "hello", 5*time.Second, nil)
	eventually(t, 5*time.Second, "node 1 to see Bob online on node 3", func() bool { return n1.cluster.IsOnlineElsewhere("bob") })

	s, across := callUp(t, a, b)
	if got := gauge(t, n1, "wishcast_cluster_relays_in") + gauge(t, n3, "wishcast_cluster_relays_in"); got != 2 {
		t.Errorf("nodes 1 and 3 pull %v streams, want one each", got)
	}
	// The nodes' call gauges add up to the one call.
	if got := gauge(t, n1, "wishcast_calls_active") + gauge(t, n2, "wishcast_calls_active") + gauge(t, n3, "wishcast_calls_active"); got != 1 {
		t.Errorf("the nodes count %v calls, want 1", got)
	}
	// Every node knows the call: a third user cannot see it on any.
	carol := tokenFor(t, n1, "carol")
	for _, n := range []*testServer{n1, n2, n3} {
		if status, _ := postJSON(t, n, carol, http.MethodGet, "/api/v1/calls/"+s.id, ""); status != http.StatusForbidden {
			t.Errorf("carol sees the call on %s: %d", n.URL, status)
		}
	}
	if status, c := postJSON(t, n2, bob, http.MethodGet, "/api/v1/calls/"+s.id, ""); status != http.StatusOK || c["state"] != "active" {
		t.Errorf("bob's call on node 2: %d %+v", status, c)
	}

	// Alice hangs up on her node.
	if status, c := postJSON(t, n1, alice, http.MethodDelete, "/api/v1/calls/"+s.id, ""); status != http.StatusOK || c["end_reason"] != "hangup" {
		t.Fatalf("alice hangs up: %d %+v", status, c)
	}
	for _, f := range []*eventFeed{a.feed, b.feed} {
		f.wait(t, "call-ended", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == s.id && callOf(e)["end_reason"] == "hangup" })
	}
	sessionsGone(t, s, alice, n1, n2, n3)

	// Again; Bob hangs up, through node 2, where neither page is.
	s2, _ := callUp(t, a, b)
	if status, c := postJSON(t, n2, bob, http.MethodDelete, "/api/v1/calls/"+s2.id, ""); status != http.StatusOK || c["end_reason"] != "hangup" {
		t.Fatalf("bob hangs up through node 2: %d %+v", status, c)
	}
	for _, f := range []*eventFeed{a.feed, b.feed} {
		f.wait(t, "call-ended", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == s2.id })
	}
	sessionsGone(t, s2, bob, n1, n2, n3)
	status, h := postJSON(t, n3, alice, http.MethodGet, "/api/v1/calls/history", "")
	if calls, _ := h["calls"].([]any); status != http.StatusOK || len(calls) != 2 {
		t.Errorf("alice's history on node 3: %d %+v", status, h)
	}

	// Bob declines a call through node 2; then both call each other at
	// once, from their own nodes: one call, answered.
	_, c := postJSON(t, n1, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	id, _ := c["id"].(string)
	b.feed.wait(t, "call-incoming", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id })
	if status, c := postJSON(t, n2, bob, http.MethodPost, "/api/v1/calls/"+id+"/decline", ""); status != http.StatusOK || c["end_reason"] != "declined" {
		t.Fatalf("bob declines through node 2: %d %+v", status, c)
	}
	a.feed.wait(t, "call-ended", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id && callOf(e)["end_reason"] == "declined" })
	_, c = postJSON(t, n1, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	id, _ = c["id"].(string)
	if status, c := postJSON(t, n3, bob, http.MethodPost, "/api/v1/calls", `{"callee":"alice"}`); status != http.StatusOK || c["id"] != id || c["state"] != "active" {
		t.Fatalf("bob calls alice back on node 3: %d %+v, want call %s answered", status, c, id)
	}
	a.feed.wait(t, "call-accepted", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id })
	postJSON(t, n2, alice, http.MethodDelete, "/api/v1/calls/"+id, "")
	b.feed.wait(t, "call-ended", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id })

	// The same call on one node, for comparison.
	one := callServer(t)
	oa, ob := tokenFor(t, one, "alice"), tokenFor(t, one, "bob")
	a1 := callPage{user: "alice", token: oa, feed: openFeed(t, one, oa, ""), feedNode: one, publishNode: one, viewNode: one}
	b1 := callPage{user: "bob", token: ob, feed: openFeed(t, one, ob, ""), feedNode: one, publishNode: one, viewNode: one}
	b1.feed.wait(t, "hello", 5*time.Second, nil)
	_, alone := callUp(t, a1, b1)
	t.Logf("accept to both sides' first video packet: %s across three nodes (two relays), %s on one node",
		across.Round(time.Millisecond), alone.Round(time.Millisecond))
}

// callNodesWithChild starts three nodes with the call settings, node 1 a
// child process (to be killed), and signs Alice in on node 1 and Bob on
// node 2, returning their tokens.
func callNodesWithChild(t *testing.T) (n1, n2, n3 *testServer, child *exec.Cmd, alice, bob string) {
	t.Helper()
	db := postgresStore(t).url
	n2 = startNode(t, "127.0.0.12", db, clusterCallSettings...)
	n3 = startNode(t, "127.0.0.13", db, clusterCallSettings...)
	n1, child = startChildNode(t, db, clusterCallSettings...)
	tokenFor(t, n2, "alice")
	bob = tokenFor(t, n2, "bob")
	alice = signInAs(t, n1.URL, "alice", "password-alice")
	return n1, n2, n3, child, alice, bob
}

// startChildNode starts node 1 of a cluster on db as a child process (so
// that a test can SIGKILL it), on 127.0.0.11, with extra settings.
func startChildNode(t *testing.T, db string, extra ...string) (*testServer, *exec.Cmd) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.11:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	env := []string{"WISHCAST_ICE_LOOPBACK=true", "WISHCAST_ICE_HOST_IPS=127.0.0.1"}
	for k, v := range clusterEnv(db, addr) {
		env = append(env, k+"="+v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env = append(env, extra[i]+"="+extra[i+1])
	}
	child := startChild(t, t.TempDir(), addr, env...)
	return &testServer{URL: "http://" + addr}, child
}

// A call placed on node 1 that rings when node 1 is killed (SIGKILL)
// still rings out for the callee, whose page is on node 3: the ring
// timeout is a deadline in the database that the surviving nodes keep.
func TestClusterCallRingsOutWhenPlacerDies(t *testing.T) {
	n1, n2, n3, child, alice, bob := callNodesWithChild(t)
	bobFeed := openFeed(t, n3, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	eventually(t, 5*time.Second, "node 1 to see Bob online", func() bool {
		resp, body := apiAs(t, n1, alice, http.MethodGet, "/api/v1/users/bob", "")
		return resp.StatusCode == http.StatusOK && strings.Contains(body, `"online":true`)
	})

	status, c := postJSON(t, n1, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	if status != http.StatusCreated {
		t.Fatalf("place on node 1: %d %+v", status, c)
	}
	placed := time.Now()
	id := c["id"].(string)
	bobFeed.wait(t, "call-incoming", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id })
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	ev := bobFeed.wait(t, "call-ended", 10*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id })
	rang := time.Since(placed)
	if callOf(ev)["end_reason"] != "timeout" {
		t.Errorf("call-ended: %+v, want timeout", ev.Data)
	}
	if rang < 3*time.Second {
		t.Errorf("the call ended %s after it was placed, before the ring timeout (3s)", rang)
	}
	t.Logf("ring timeout 3s, placer killed: the callee heard call-ended %s after the call was placed", rang.Round(time.Millisecond))
	if status, c := postJSON(t, n3, bob, http.MethodGet, "/api/v1/calls/"+id, ""); status != http.StatusNotFound {
		t.Errorf("the call on node 3 after it rang out: %d %+v", status, c)
	}
	status, h := postJSON(t, n2, bob, http.MethodGet, "/api/v1/calls/history", "")
	calls, _ := h["calls"].([]any)
	if status != http.StatusOK || len(calls) != 1 || calls[0].(map[string]any)["end_reason"] != "timeout" {
		t.Errorf("bob's history: %d %+v", status, h)
	}
	// Bob is free again: Carol's call rings.
	carol := tokenFor(t, n2, "carol")
	if status, c := postJSON(t, n2, carol, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`); status != http.StatusCreated {
		t.Errorf("carol calls bob after: %d %+v", status, c)
	}
}

// An answered call whose participant's node dies: Alice's page has both
// its sessions on node 1, which is killed; the call drops after the drop
// grace for Bob, whose page and sessions are on node 3, and his sessions
// end.
func TestClusterCallDropsWhenParticipantsNodeDies(t *testing.T) {
	n1, n2, n3, child, alice, bob := callNodesWithChild(t)
	a := callPage{user: "alice", token: alice, feed: openFeed(t, n2, alice, ""), feedNode: n2, publishNode: n1, viewNode: n1}
	b := callPage{user: "bob", token: bob, feed: openFeed(t, n3, bob, ""), feedNode: n3, publishNode: n3, viewNode: n3}
	a.feed.wait(t, "hello", 5*time.Second, nil)
	b.feed.wait(t, "hello", 5*time.Second, nil)
	eventually(t, 5*time.Second, "node 2 to see Bob online", func() bool { return n2.cluster.IsOnlineElsewhere("bob") })
	s, _ := callUp(t, a, b)
	// Past the drop grace with both present: the call stays.
	time.Sleep(2 * time.Second) // no event expected: waiting is the test
	if status, c := postJSON(t, n3, bob, http.MethodGet, "/api/v1/calls/"+s.id, ""); status != http.StatusOK || c["state"] != "active" {
		t.Fatalf("the call after the drop grace with both present: %d %+v", status, c)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for _, f := range []*eventFeed{a.feed, b.feed} {
		ev := f.wait(t, "call-ended", 10*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == s.id })
		if callOf(ev)["end_reason"] != "dropped" {
			t.Errorf("call-ended: %+v, want dropped", ev.Data)
		}
	}
	t.Logf("drop grace 1.5s: the call ended %s after the node with Alice's sessions was killed", time.Since(killed).Round(time.Millisecond))
	for _, loc := range []string{s.calleePub.location, s.calleeView.location} {
		id := strings.TrimPrefix(loc, "/sessions/")
		eventually(t, 5*time.Second, "bob's sessions on node 3 to end", func() bool { return n3.sessions.Get(id) == nil })
	}
}
