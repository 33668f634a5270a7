//go:build e2e

package e2e

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// clusterSecret signs the requests between the nodes of a test cluster.
const clusterSecret = "the e2e cluster secret, long enough for a node"

// startNode starts a wishcast process as a node of a cluster on the
// PostgreSQL database db, its HTTP listener on ip (a loopback address of
// its own, 127.0.0.11 say); ICE stays on 127.0.0.1 on ports of its own.
// Leases and graces are short, so that the test sees relays end quickly.
func startNode(t *testing.T, ip, db, allowedOrigin string) *wishcast {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("find a free port on %s: %v", ip, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := launchWishcast(t, "http://"+addr,
		"WISHCAST_LISTEN="+addr,
		"WISHCAST_ICE_LOOPBACK=true",
		"WISHCAST_ICE_HOST_IPS=127.0.0.1",
		"WISHCAST_ALLOWED_ORIGINS="+allowedOrigin,
		"WISHCAST_DEMO_CAMERA_ADDR=127.0.0.1:0",
		"WISHCAST_DATABASE_URL="+db,
		"WISHCAST_NODE_URL=http://"+addr,
		"WISHCAST_CLUSTER_SECRET="+clusterSecret,
		"WISHCAST_CLUSTER_LEASE=2s",
		"WISHCAST_CLUSTER_RENEW=500ms",
		"WISHCAST_ON_DEMAND_GRACE=1s",
		"WISHCAST_PRESENCE_GRACE=200ms",
	)
	s.waitHealthy(t)
	return s
}

// clusterHarness starts the page server, the browser, and two wishcast
// nodes on one PostgreSQL database; h.srv is node 1.
func clusterHarness(t *testing.T) (h *harness, node1, node2 *wishcast) {
	t.Helper()
	db := pg.Database(t)
	h = &harness{t: t}
	h.pages = startPages(t)
	h.ctx = newBrowser(t)
	node1 = startNode(t, "127.0.0.11", db, h.pages.URL)
	node2 = startNode(t, "127.0.0.12", db, h.pages.URL)
	h.srv = node1
	h.shots = os.Getenv("WISHCAST_ARTIFACTS")
	if h.shots == "" {
		h.shots = t.TempDir()
	} else if err := os.MkdirAll(h.shots, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return h, node1, node2
}

// Two nodes on one PostgreSQL: Alice's page is signed in on node 1, Bob's
// on node 2. Alice sees Bob online and clicks Watch; Bob's page publishes
// to its node, and Alice's player on node 1 plays the picture that node 1
// pulls from node 2. When she leaves, Bob's camera goes off.
func TestAppClusterWatchUser(t *testing.T) {
	h, node1, _, alice, bob := aliceAndBobOnTwoNodes(t)

	watchStart(alice, bob, "bob")
	// Alice's picture came through node 1, which pulled it from node 2.
	if out := node1.output.String(); !strings.Contains(out, `msg="pulling a person's camera from another node"`) ||
		!strings.Contains(out, "stream=users/bob") {
		h.fatalf("node 1 played Bob's camera without pulling it from node 2; its log:\n%s", node1.tail(40))
	}
	watchLeave(alice, bob)
}

// Alice's page is signed in on node 1, Bob's on node 2: Alice calls Bob,
// whose page answers at once; each page publishes to its own node and
// views the other's stream there, which that node pulls from the other
// (a relay each way between the same two nodes); both decode each other.
// Bob hangs up on node 2 and Alice's page on node 1 says so.
func TestAppClusterCall(t *testing.T) {
	h, node1, node2, alice, bob := aliceAndBobOnTwoNodes(t)

	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=call]'); return !!b && !b.disabled; })()`)
	start := time.Now()
	alice.uiClick("[data-test=person-bob] [data-action=call]")
	bob.waitAppDecoding("calls/", "#call-remote video")
	alice.waitAppDecoding("calls/", "#call-remote video")
	took := time.Since(start)
	t.Logf("Call clicked to both pages decoding each other across two nodes (auto-answer): %s", took.Round(time.Millisecond))
	// About a second here, as on one node; relays that meet on one ICE
	// port pair get there only after the pages retried, in 15 s or so.
	if took > 8*time.Second {
		h.fatalf("the pages decoded each other %s after the call, want a few seconds at most", took.Round(time.Millisecond))
	}
	for _, n := range []*wishcast{node1, node2} {
		if out := n.output.String(); !strings.Contains(out, `msg="pulling a call's stream from another node"`) {
			h.fatalf("node %s played the other's call stream without pulling it; its log:\n%s", n.URL, n.tail(40))
		}
	}
	alice.screenshot(t.Name() + "-alice-in-call.png")
	bob.uiClick("#call-hangup")
	alice.uiWaitText("#call-status", "Bob hung up", mediaTimeout)
	for _, tb := range []*tab{alice, bob} {
		tb.uiWaitJS("the call's sessions to be gone", mediaTimeout,
			`window.wishcast.stats().then((l) => !l.some((s) => s.stream.startsWith('calls/')))`)
	}
}

// aliceAndBobOnTwoNodes starts two nodes and signs Alice in on node 1 and
// Bob on node 2, each page loaded from its own node.
func aliceAndBobOnTwoNodes(t *testing.T) (h *harness, node1, node2 *wishcast, alice, bob *tab) {
	t.Helper()
	h, node1, node2 = clusterHarness(t)
	node1.apiCreateUser(t, "alice", "Alice", "alice's long password")
	node1.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob = h.openURL("bob", node2.URL+"/")
	bob.uiWaitJS("the app to boot", uiTimeout, `document.body.dataset.ready === 'true'`)
	bob.uiSignIn("bob", "bob's long password")
	alice = h.openApp("alice")
	alice.uiSignIn("alice", "alice's long password")
	for _, tb := range []struct {
		tab  *tab
		node *wishcast
	}{{alice, node1}, {bob, node2}} {
		if origin := mustEvaluate[string](tb.tab, `location.origin`); origin != tb.node.URL {
			h.fatalf("%s's page is on %s, want %s", tb.tab.name, origin, tb.node.URL)
		}
	}
	return h, node1, node2, alice, bob
}
