package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wishcast/wishcast/rtsp"
)

// An always-on camera is dialled by one node of the cluster, viewers or
// not: node 1 (a process of its own) holds it, nodes 2 and 3 started
// after it leave it alone, and a viewer on node 2 gets it through node
// 1. When node 1 is killed, one other node dials it within the lease and
// a renewal, node 2 serves it again, and the camera is never connected
// twice.
func TestClusterAlwaysOnCamera(t *testing.T) {
	cam := startDemoCamera(t)
	db := postgresStore(t).url
	devices := "cam=" + cam.URL() + "#tcp#always-on"

	ln, err := net.Listen("tcp", "127.0.0.11:0")
	if err != nil {
		t.Fatal(err)
	}
	addr1 := ln.Addr().String()
	_ = ln.Close()
	env := []string{"WISHCAST_ICE_LOOPBACK=true", "WISHCAST_ICE_HOST_IPS=127.0.0.1", "WISHCAST_DEVICES=" + devices}
	for k, v := range clusterEnv(db, addr1) {
		env = append(env, k+"="+v)
	}
	child := startChild(t, t.TempDir(), addr1, env...)
	eventually(t, 10*time.Second, "node 1 to dial the always-on camera without a viewer", func() bool { return cam.Readers() == 1 })

	n2 := startNode(t, "127.0.0.12", db, "WISHCAST_DEVICES", devices)
	n3 := startNode(t, "127.0.0.13", db, "WISHCAST_DEVICES", devices)
	dir := n2.cluster.Directory()
	if h, ok, err := dir.Lookup(context.Background(), "devices/cam"); err != nil || !ok || h.URL != "http://"+addr1 || h.Kind != "camera" {
		t.Fatalf("directory: %+v %v %v, want node 1's camera", h, ok, err)
	}
	// A few renewals (500 ms): nodes 2 and 3 leave the camera alone.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := cam.Readers(); n != 1 {
			t.Fatalf("the camera has %d RTSP readers with three nodes up, want 1", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range []*testServer{n2, n3} {
		if st := cameraStatus(t, n, "cam"); st.State != rtsp.StateIdle || st.Connections != 0 {
			t.Errorf("%s: camera %+v, want not dialled (node 1 holds it)", n.URL, st)
		}
	}
	v, _ := firstVideo(t, n2, "devices/cam")
	for range 10 {
		next(t, v.video, 5*time.Second)
	}
	if got := gauge(t, n2, "wishcast_cluster_relays_in"); got != 1 {
		t.Errorf("node 2 pulls %v streams, want 1 (the camera, from node 1)", got)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var holder *testServer
	eventually(t, 10*time.Second, "another node to dial the camera", func() bool {
		h, ok, err := dir.Lookup(context.Background(), "devices/cam")
		if err != nil || !ok {
			return false
		}
		for _, n := range []*testServer{n2, n3} {
			if h.Node == n.cluster.ID() && cameraStatus(t, n, "cam").State == rtsp.StateLive {
				holder = n
				return true
			}
		}
		return false
	})
	t.Logf("after SIGKILL of its holder (lease 2s, renewal 500ms), the camera was live on %s %s later", holder.URL, time.Since(killed).Round(time.Millisecond))
	eventually(t, 5*time.Second, "the camera to have one reader", func() bool { return cam.Readers() == 1 })
	deadline = time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := cam.Readers(); n != 1 {
			t.Fatalf("the camera has %d RTSP readers after the takeover, want 1", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	other := n3
	if holder == n3 {
		other = n2
	}
	if st := cameraStatus(t, other, "cam"); st.State != rtsp.StateIdle {
		t.Errorf("%s (not the holder): camera %+v, want not dialled", other.URL, st)
	}
	// A viewer on node 2 gets video, whichever node dials now.
	v2, _ := firstVideo(t, n2, "devices/cam")
	for range 10 {
		next(t, v2.video, 5*time.Second)
	}
	if n := cam.Readers(); n != 1 {
		t.Errorf("the camera has %d RTSP readers with a viewer after the takeover, want 1", n)
	}
}

// A camera an admin marks always-on on one node is dialled by one node
// of the cluster within the time the nodes take to read the camera list
// again (ten renewals), and hung up on once it is no longer always-on.
func TestClusterAlwaysOnChanges(t *testing.T) {
	cam := startDemoCamera(t)
	db := postgresStore(t).url
	n1, n2 := startNode(t, "127.0.0.11", db), startNode(t, "127.0.0.12", db)
	put := func(n *testServer, alwaysOn bool) {
		t.Helper()
		body := fmt.Sprintf(`{"url":%q,"transport":"tcp","always_on":%v}`, cam.URL(), alwaysOn)
		resp, got := apiAs(t, n, "", http.MethodPut, "/api/v1/devices/lobby", body)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT the camera (always-on %v): %d %s", alwaysOn, resp.StatusCode, got)
		}
	}
	put(n1, true)
	start := time.Now()
	eventually(t, 10*time.Second, "one node to dial the camera", func() bool { return cam.Readers() == 1 })
	t.Logf("camera made always-on on node 1: dialled %s later (renewal 500ms)", time.Since(start).Round(time.Millisecond))
	liveOn := func() (live int) {
		for _, n := range []*testServer{n1, n2} {
			if cameraStatus(t, n, "lobby").State == rtsp.StateLive {
				live++
			}
		}
		return live
	}
	eventually(t, 5*time.Second, "the camera to be live on a node", func() bool { return liveOn() > 0 })
	if live, readers := liveOn(), cam.Readers(); live != 1 || readers != 1 {
		t.Errorf("%d nodes dial the camera, %d RTSP readers; want 1 and 1", live, readers)
	}

	put(n2, false)
	eventually(t, 10*time.Second, "the camera to be hung up on", func() bool { return cam.Readers() == 0 })
	for _, n := range []*testServer{n1, n2} {
		if st := cameraStatus(t, n, "lobby"); st.State != rtsp.StateIdle {
			t.Errorf("%s: camera %+v after it stopped being always-on, want idle", n.URL, st)
		}
	}
}
