package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/rtsp/democam"
)

// testClusterSecret signs the requests between the nodes of a test.
const testClusterSecret = "a cluster secret of the tests, long enough"

// clusterEnv are the settings of a node of a test cluster on db whose
// HTTP listener is at addr: short leases and graces, so that a test sees
// a node die and a relay end within seconds.
func clusterEnv(db, addr string) map[string]string {
	return map[string]string{
		"WISHCAST_DATABASE_URL":    db,
		"WISHCAST_NODE_URL":        "http://" + addr,
		"WISHCAST_CLUSTER_SECRET":  testClusterSecret,
		"WISHCAST_CLUSTER_LEASE":   "2s",
		"WISHCAST_CLUSTER_RENEW":   "500ms",
		"WISHCAST_ON_DEMAND_GRACE": "1s",
		"WISHCAST_ORPHAN_TIMEOUT":  "1s",
		"WISHCAST_PRESENCE_GRACE":  "200ms",
	}
}

// startNode starts an in-process node of a cluster on db, its HTTP
// listener on ip (a loopback address of its own).
func startNode(t *testing.T, ip, db string, extra ...string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	env := clusterEnv(db, ln.Addr().String())
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	cfg, err := loadConfig(testEnv(t, env))
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("WISHCAST_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	s, err := newServer(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", ip))
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := s.accounts.Login(context.Background(), "admin", testAdminPassword, "test")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(asAdmin(s.handler, token))
	_ = hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		s.close()
	})
	return &testServer{server: s, URL: hs.URL, AdminToken: token}
}

// gauge reads a metric of a node (summed over its series).
func gauge(t *testing.T, ts *testServer, name string) float64 {
	t.Helper()
	mfs, err := ts.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			}
		}
	}
	return sum
}

// firstVideo returns how long a new viewer of name on ts waits, from its
// POST, for its first video packet.
func firstVideo(t *testing.T, ts *testServer, name string) (*viewer, time.Duration) {
	t.Helper()
	start := time.Now()
	v := startViewer(t, ts, name)
	next(t, v.video, 10*time.Second)
	return v, time.Since(start)
}

// Three nodes on one PostgreSQL: a stream published on node 1 plays on
// nodes 2 and 3, each pulling it once however many viewers it has;
// keyframe requests reach the publisher through the relay; a second
// publisher of the stream on another node gets 409; a session's PATCH
// and DELETE work on any node; a node's relay ends after the grace when
// its last viewer leaves.
func TestClusterRelay(t *testing.T) {
	db := postgresStore(t).url
	n1, n2, n3 := startNode(t, "127.0.0.11", db), startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	const name = "live/cluster"
	pub := startPublisher(t, n1, name, 30)
	firstVideo(t, n1, name) // the stream is live
	_, local := firstVideo(t, n1, name)
	v2, relayed2 := firstVideo(t, n2, name)
	_, warm := firstVideo(t, n2, name)
	v3a, relayed3 := firstVideo(t, n3, name)
	v3b, _ := firstVideo(t, n3, name)
	// How much longer a viewer waits for its first frame when its node
	// has to start pulling the stream (logged for the record: timings on
	// a shared machine are noisy).
	t.Logf("first video packet after the WHEP POST: %s on the publisher's node; %s and %s through a new relay; %s through a running one",
		local.Round(time.Millisecond), relayed2.Round(time.Millisecond), relayed3.Round(time.Millisecond), warm.Round(time.Millisecond))
	for _, v := range []*viewer{v2, v3a, v3b} {
		for range 20 { // media keeps flowing, not only the cached keyframe
			next(t, v.video, 5*time.Second)
		}
		next(t, v.audio, 5*time.Second)
	}
	if got := gauge(t, n2, "wishcast_cluster_relays_in") + gauge(t, n3, "wishcast_cluster_relays_in"); got != 2 {
		t.Errorf("nodes 2 and 3 pull %v relays, want one each", got)
	}
	if got := gauge(t, n1, "wishcast_cluster_relays_out"); got != 2 {
		t.Errorf("node 1 serves %v relays, want 2 (one per node)", got)
	}
	if got := gauge(t, n1, "wishcast_cluster_streams_held"); got != 1 {
		t.Errorf("node 1 holds %v streams, want 1", got)
	}
	// Node 1's periodic re-check of sessions (revocations) leaves the
	// other nodes' pulls alone: they are no user's.
	if ended := n1.rules.Recheck(context.Background(), func(string) bool { return true }); ended != 0 {
		t.Errorf("a re-check on node 1 ended %d sessions", ended)
	}

	// A keyframe request of a viewer on node 3 reaches the publisher on node 1.
	before := pub.plis.Load()
	p := next(t, v3a.video, 5*time.Second)
	eventually(t, 10*time.Second, "the publisher to get a keyframe request", func() bool {
		_ = v3a.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: p.SSRC}})
		time.Sleep(100 * time.Millisecond)
		return pub.plis.Load() > before
	})

	// One publisher per stream across the cluster.
	resp, body := whipOffer(t, n2, name)
	wantStatus(t, "a second publisher on node 2", resp, body, http.StatusConflict)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("409 without Retry-After")
	}

	// The session of v2 is node 2's; PATCH and DELETE work through node 3 and node 1.
	if !strings.HasPrefix(v2.location, "/sessions/"+n2.cluster.ID()+".") {
		t.Fatalf("session %s does not name node 2 (%s)", v2.location, n2.cluster.ID())
	}
	offer := v2.pc.LocalDescription().SDP
	frag := cfFrag(offer, cfOwnCandidates(offer)[:1], false)
	resp, body = do(t, http.MethodPatch, n3.URL+v2.location, frag, "Content-Type", cfFragType, "If-Match", v2.etag)
	wantStatus(t, "trickle PATCH through node 3", resp, body, http.StatusNoContent)
	resp, body = do(t, http.MethodPatch, n3.URL+v2.location, frag, "Content-Type", cfFragType, "If-Match", `"stale"`)
	wantStatus(t, "stale PATCH through node 3", resp, body, http.StatusPreconditionFailed)
	id := strings.TrimPrefix(v2.location, "/sessions/")
	resp, body = do(t, http.MethodDelete, n1.URL+v2.location, "")
	wantStatus(t, "DELETE through node 1", resp, body, http.StatusOK)
	if n2.sessions.Get(id) != nil {
		t.Error("the session still runs on node 2 after DELETE through node 1")
	}
	resp, body = do(t, http.MethodDelete, n3.URL+v2.location, "")
	wantStatus(t, "second DELETE through node 3", resp, body, http.StatusNotFound)
	if got := gauge(t, n3, "wishcast_cluster_forwarded_requests_total"); got != 3 {
		t.Errorf("node 3 forwarded %v requests, want 3", got)
	}

	// Node 3's viewers leave: its relay ends after the grace, node 2's stays.
	for _, v := range []*viewer{v3a, v3b} {
		resp, body := do(t, http.MethodDelete, n3.URL+v.location, "")
		wantStatus(t, "viewer leaves node 3", resp, body, http.StatusOK)
	}
	eventually(t, 5*time.Second, "node 3's relay to end", func() bool {
		return gauge(t, n3, "wishcast_cluster_relays_in") == 0 && gauge(t, n1, "wishcast_cluster_relays_out") == 1
	})
	if gauge(t, n2, "wishcast_cluster_relays_in") != 1 {
		t.Error("node 2's relay ended with node 3's viewers")
	}
}

// whipOffer posts a publisher's offer for name to ts (and drops the peer).
func whipOffer(t *testing.T, ts *testServer, name string) (*http.Response, string) {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "pub")
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	return do(t, http.MethodPost, ts.URL+"/whip/"+name, offerFor(t, pc), "Content-Type", "application/sdp")
}

// A node killed with SIGKILL: its stream leaves the directory within the
// lease, the stream ends for viewers on the other nodes, and published
// again on a surviving node it plays there again.
func TestClusterNodeDies(t *testing.T) {
	db := postgresStore(t).url
	n1, child := startChildNode(t, db)
	n2, n3 := startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	token := signInAs(t, n1.URL, "admin", testAdminPassword)

	const name = "live/dies"
	pub := startPublisher(t, n1, name, 30, "Authorization", "Bearer "+token)
	v, _ := firstVideo(t, n2, name)
	for range 10 {
		next(t, v.video, 5*time.Second)
	}
	dir := n2.cluster.Directory()
	if h, ok, err := dir.Lookup(context.Background(), name); err != nil || !ok || h.URL != n1.URL {
		t.Fatalf("directory before the kill: %+v %v %v", h, ok, err)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 5*time.Second, "the dead node's stream to leave the directory", func() bool {
		_, ok, err := dir.Lookup(context.Background(), name)
		return err == nil && !ok
	})
	left := time.Since(killed)
	eventually(t, 5*time.Second, "the stream to end on node 2", func() bool { return !n2.hub.IsLive(name) })
	ended := time.Since(killed)
	t.Logf("after SIGKILL (lease 2s): out of the directory in %s, ended on node 2 in %s", left.Round(time.Millisecond), ended.Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	for len(v.video) > 0 {
		<-v.video
	}
	select {
	case <-v.video:
		t.Error("video still arrives on node 2 after the stream ended")
	case <-time.After(time.Second):
	}
	pub.Stop()

	startPublisher(t, n3, name, 30)
	v2, _ := firstVideo(t, n2, name)
	for range 10 {
		next(t, v2.video, 5*time.Second)
	}
	if h, ok, _ := dir.Lookup(context.Background(), name); !ok || h.Node != n3.cluster.ID() {
		t.Errorf("directory after the republish: %+v %v, want node 3", h, ok)
	}
}

// Cluster settings are checked at start with messages that name the
// setting; without NODE_URL a node runs alone, its session ids as before.
func TestClusterSettings(t *testing.T) {
	pgURL := "postgres://u:p@127.0.0.1:5432/db"
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WISHCAST_NODE_URL": "http://10.0.0.5:8080", "WISHCAST_CLUSTER_SECRET": testClusterSecret}, "WISHCAST_NODE_URL needs a PostgreSQL WISHCAST_DATABASE_URL"},
		{map[string]string{"WISHCAST_DATABASE_URL": pgURL, "WISHCAST_NODE_URL": "http://10.0.0.5:8080"}, "WISHCAST_CLUSTER_SECRET must be set to at least 32 characters"},
		{map[string]string{"WISHCAST_DATABASE_URL": pgURL, "WISHCAST_NODE_URL": "10.0.0.5:8080", "WISHCAST_CLUSTER_SECRET": testClusterSecret}, "WISHCAST_NODE_URL must be an absolute"},
		{map[string]string{"WISHCAST_CLUSTER_SECRET": testClusterSecret}, "need WISHCAST_NODE_URL"},
	} {
		_, err := loadConfig(testEnv(t, tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.env, err, tc.want)
		}
	}
	cfg, err := loadConfig(testEnv(t, map[string]string{"WISHCAST_DATABASE_URL": pgURL, "WISHCAST_NODE_URL": "http://10.0.0.5:8080", "WISHCAST_CLUSTER_SECRET": testClusterSecret}))
	if err != nil || cfg.Cluster.NodeID != "10-0-0-5-8080" {
		t.Fatalf("node id %q, %v", cfg.Cluster.NodeID, err)
	}

	ts := newTestServer(t)
	if ts.cluster != nil {
		t.Fatal("a node without NODE_URL joined a cluster")
	}
	pub := startPublisher(t, ts, "live/alone", 30)
	if strings.Contains(pub.location, ".") {
		t.Errorf("session %s of a lone node names a node", pub.location)
	}
}

// A camera is dialled once in the cluster: by the first node asked, the
// others pull it from that node; when that node dies, the next viewer
// elsewhere makes its own node dial the camera.
func TestClusterCamera(t *testing.T) {
	cam := startDemoCamera(t)
	db := postgresStore(t).url
	dev := "WISHCAST_DEVICES"
	n2 := startNode(t, "127.0.0.12", db, dev, "cam="+cam.URL()+"#tcp")
	n3 := startNode(t, "127.0.0.13", db, dev, "cam="+cam.URL()+"#tcp")

	v2, _ := firstVideo(t, n2, "devices/cam")
	v3, _ := firstVideo(t, n3, "devices/cam")
	for _, v := range []*viewer{v2, v3} {
		for range 10 {
			next(t, v.video, 5*time.Second)
		}
	}
	if st := cameraStatus(t, n2, "cam"); st.State != rtsp.StateLive || st.Connections != 1 {
		t.Errorf("node 2 (first asked): camera %+v, want live on one connection", st)
	}
	if st := cameraStatus(t, n3, "cam"); st.State != rtsp.StateIdle || st.Connections != 0 {
		t.Errorf("node 3: camera %+v, want not dialled (pulled from node 2)", st)
	}
	if got := gauge(t, n3, "wishcast_cluster_relays_in"); got != 1 {
		t.Errorf("node 3 pulls %v streams, want 1", got)
	}

	n2.cluster.Kill()
	eventually(t, 5*time.Second, "the camera to leave the directory", func() bool {
		_, ok, err := n3.cluster.Directory().Lookup(context.Background(), "devices/cam")
		return err == nil && !ok
	})
	// Node 3 dials the camera for the viewer it still has, and serves a new one.
	eventually(t, 5*time.Second, "node 3 to dial the camera", func() bool {
		return cameraStatus(t, n3, "cam").State == rtsp.StateLive
	})
	v, _ := firstVideo(t, n3, "devices/cam")
	next(t, v.video, 5*time.Second)
	if st := cameraStatus(t, n3, "cam"); st.State != rtsp.StateLive || st.Connections != 1 {
		t.Errorf("node 3 after node 2 died: camera %+v, want dialled here", st)
	}
	if h, ok, _ := n3.cluster.Directory().Lookup(context.Background(), "devices/cam"); !ok || h.Node != n3.cluster.ID() || h.Kind != "camera" {
		t.Errorf("directory: %+v %v, want node 3's camera", h, ok)
	}
}

// Alice on node 1 watches Bob, whose page is open on node 3 and publishes
// to node 2: node 3 asks the page to publish, node 1 pulls the camera
// from node 2, and when Alice leaves Bob's page is told to stop.
func TestClusterWatchUser(t *testing.T) {
	db := postgresStore(t).url
	n1, n2, n3 := startNode(t, "127.0.0.11", db), startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	alice, bob := tokenFor(t, n1, "alice"), tokenFor(t, n1, "bob")
	bobFeed := openFeed(t, n3, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	eventually(t, 5*time.Second, "node 1 to see Bob online on node 3", func() bool {
		nodes, err := n1.cluster.Directory().PresenceOf(context.Background(), "bob")
		return err == nil && len(nodes) == 1 && nodes[0] == n3.cluster.ID()
	})

	_, body := apiAs(t, n1, alice, http.MethodGet, "/api/v1/users/bob", "")
	if !strings.Contains(body, `"online":true`) || !strings.Contains(body, `"publishing":false`) {
		t.Errorf("bob on node 1's list before publishing: %s", body)
	}

	start := time.Now()
	answer := startViewerAsync(t, n1, "users/bob", bearer(alice)...)
	ev := bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	if ev.Data["stream"] != "users/bob" {
		t.Fatalf("publish-request: %+v", ev.Data)
	}
	startPublisher(t, n2, "users/bob", 30, bearer(bob)...)
	v := answer()
	next(t, v.video, 5*time.Second)
	t.Logf("WHEP POST on node 1 to first video packet, through a page on node 3 publishing to node 2: %s", time.Since(start).Round(time.Millisecond))
	if h, ok, _ := n1.cluster.Directory().Lookup(context.Background(), "users/bob"); !ok || h.Node != n2.cluster.ID() {
		t.Errorf("directory: %+v %v, want node 2", h, ok)
	}

	eventually(t, 3*time.Second, "node 3's list to show Bob's camera on", func() bool {
		_, body := apiAs(t, n3, alice, http.MethodGet, "/api/v1/users/bob", "")
		return strings.Contains(body, `"publishing":true`)
	})

	resp, body := do(t, http.MethodDelete, n1.URL+v.location, "", bearer(alice)...)
	wantStatus(t, "alice leaves", resp, body, http.StatusOK)
	bobFeed.wait(t, "publish-stop", 5*time.Second, nil)
}

// A person who opens the app on one node is announced online to the
// event feeds of the other nodes, listed online in the hello of a feed
// opened later elsewhere, and announced offline when they leave.
func TestClusterPresence(t *testing.T) {
	db := postgresStore(t).url
	n1, n2, n3 := startNode(t, "127.0.0.11", db), startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	alice, bob, carol := tokenFor(t, n1, "alice"), tokenFor(t, n1, "bob"), tokenFor(t, n1, "carol")
	aliceFeed := openFeed(t, n1, alice, "")
	aliceFeed.wait(t, "hello", 5*time.Second, nil)

	start := time.Now()
	bobFeed := openFeed(t, n3, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	bobOnline := func(online bool) func(sseEvent) bool {
		return func(e sseEvent) bool { return e.Data["user"] == "bob" && e.Data["online"] == online }
	}
	aliceFeed.wait(t, "presence", 5*time.Second, bobOnline(true))
	t.Logf("bob online on node 3 → alice's feed on node 1 told in %s (renewal 500ms)", time.Since(start).Round(time.Millisecond))

	eventually(t, 5*time.Second, "node 2 to hear of alice and bob", func() bool {
		on := n2.cluster.OnlineElsewhere()
		return slices.Contains(on, "alice") && slices.Contains(on, "bob")
	})
	carolFeed := openFeed(t, n2, carol, "")
	hello := carolFeed.wait(t, "hello", 5*time.Second, nil)
	online, _ := hello.Data["online"].([]any)
	if !slices.Contains(online, any("bob")) || !slices.Contains(online, any("alice")) || !slices.Contains(online, any("carol")) {
		t.Errorf("carol's hello on node 2 lists online %v, want alice, bob and carol", online)
	}

	bobFeed.close()
	aliceFeed.wait(t, "presence", 5*time.Second, bobOnline(false))
	carolFeed.wait(t, "presence", 5*time.Second, bobOnline(false))
}

// An anonymous viewer of a public stream may end its own session through
// any node: the node forwarding the DELETE vouches for the viewer's
// address, which the node holding the session checks as if asked
// directly; from another address it is a 404.
func TestClusterForwardKeepsClientAddress(t *testing.T) {
	db := postgresStore(t).url
	n1, n2, n3 := startNode(t, "127.0.0.11", db), startNode(t, "127.0.0.12", db), startNode(t, "127.0.0.13", db)
	startPublisher(t, n1, "live/open", 30)
	resp, body := apiAs(t, n1, "", http.MethodPut, "/api/v1/streams/live/open", `{"public":true}`)
	wantStatus(t, "make the stream public", resp, body, http.StatusOK)

	client := fromAddr(net.ParseIP("127.0.0.5"))
	pc, v := newViewerPC(t)
	addRecvonly(t, pc)
	req, err := http.NewRequest(http.MethodPost, n2.URL+"/whep/live/open", strings.NewReader(offerFor(t, pc)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set(anonymous, "1")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v.peer = answered(t, pc, n2.URL+"/whep/live/open", resp, string(b))
	next(t, v.video, 10*time.Second)

	del := func(c *http.Client) int {
		req, _ := http.NewRequest(http.MethodDelete, n3.URL+v.location, nil)
		req.Header.Set(anonymous, "1")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := del(fromAddr(net.ParseIP("127.0.0.6"))); code != http.StatusNotFound {
		t.Errorf("DELETE through node 3 from another address: %d, want 404", code)
	}
	if code := del(client); code != http.StatusOK {
		t.Errorf("DELETE through node 3 from the viewer's address: %d, want 200", code)
	}
	if n2.sessions.Get(strings.TrimPrefix(v.location, "/sessions/")) != nil {
		t.Error("the session still runs on node 2")
	}
}

// startDemoCamera starts the demo RTSP camera on a free loopback port for
// the test's life.
func startDemoCamera(t *testing.T) *democam.Server {
	t.Helper()
	cam, err := democam.New(democam.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}
