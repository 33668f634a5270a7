package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// callServer is a test server with short call, presence and on-demand
// timers, and three users with open event feeds where asked.
func callServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServer(t, func(c *Config) {
		c.Stream.OnDemandTimeout = 3 * time.Second
		c.Stream.OnDemandGrace = 300 * time.Millisecond
		c.Calls.RingTimeout = 2 * time.Second
		c.Calls.DropGrace = 1500 * time.Millisecond
		c.Calls.PresenceGrace = 200 * time.Millisecond
	})
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// Alice watches Bob: Bob's page is asked to publish, Alice's WHEP answer
// waits for it, media flows, Bob learns who watches; when Alice leaves,
// Bob is told to stop and his session is ended.
func TestWatchUser(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)

	start := time.Now()
	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	ev := bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	if ev.Data["stream"] != "users/bob" {
		t.Fatalf("publish-request: %+v", ev.Data)
	}
	pub := startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	v := answer()
	next(t, v.video, 5*time.Second)
	t.Logf("first WHEP POST on users/bob to first video packet: %s", time.Since(start).Round(time.Millisecond))

	ev = bobFeed.wait(t, "watchers", 5*time.Second, func(e sseEvent) bool { return len(e.Data["viewers"].([]any)) > 0 })
	if got := ev.Data["viewers"].([]any); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("watchers: %+v", ev.Data)
	}
	resp, body := apiAs(t, ts, alice, http.MethodGet, "/api/v1/users/bob", "")
	if !strings.Contains(body, `"online":true`) || !strings.Contains(body, `"publishing":true`) {
		t.Fatalf("bob in the user list: %d %s", resp.StatusCode, body)
	}

	if resp, _ := do(t, http.MethodDelete, ts.URL+v.location, "", bearer(alice)...); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice leaves: %d", resp.StatusCode)
	}
	bobFeed.waitAll(t, 5*time.Second, map[string]func(sseEvent) bool{
		"publish-stop": nil,
		"watchers":     func(e sseEvent) bool { return len(e.Data["viewers"].([]any)) == 0 },
	})
	bobID := strings.TrimPrefix(pub.location, "/sessions/")
	eventually(t, 5*time.Second, "bob's publisher session to be ended", func() bool { return ts.sessions.Get(bobID) == nil })
}

// A person's camera goes off WATCH_GRACE after the last viewer left, not
// after the cameras' longer ON_DEMAND_GRACE; everyone's people list hears
// that it went on and off (presence events with "publishing").
func TestWatchUserStopsAfterItsOwnGrace(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Stream.OnDemandTimeout = 3 * time.Second
		c.Stream.OnDemandGrace = time.Minute
		c.Calls.WatchGrace = 300 * time.Millisecond
	})
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	aliceFeed, bobFeed := openFeed(t, ts, alice, ""), openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	aliceFeed.wait(t, "hello", 5*time.Second, nil)

	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	pub := startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	v := answer()
	next(t, v.video, 5*time.Second)
	camera := func(on bool) func(sseEvent) bool {
		return func(e sseEvent) bool {
			return e.Data["user"] == "bob" && e.Data["publishing"] == on && e.Data["online"] == true
		}
	}
	aliceFeed.wait(t, "presence", 5*time.Second, camera(true))

	left := time.Now()
	if resp, _ := do(t, http.MethodDelete, ts.URL+v.location, "", bearer(alice)...); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice leaves: %d", resp.StatusCode)
	}
	bobFeed.wait(t, "publish-stop", 5*time.Second, nil)
	if d := time.Since(left); d < ts.cfg.Calls.WatchGrace || d > 2*time.Second {
		t.Fatalf("publish-stop %s after the last viewer left; want WATCH_GRACE (%s), well under the minute of ON_DEMAND_GRACE", d, ts.cfg.Calls.WatchGrace)
	}
	bobID := strings.TrimPrefix(pub.location, "/sessions/")
	eventually(t, 5*time.Second, "bob's publisher session to be ended", func() bool { return ts.sessions.Get(bobID) == nil })
	aliceFeed.wait(t, "presence", 5*time.Second, camera(false))
	if d := time.Since(left); d > 3*time.Second {
		t.Fatalf("the people list heard that bob's camera is off %s after alice left", d)
	}
}

// Watching someone offline, or someone whose page does not answer, is a
// 409 that says so; watching a user who refuses is a 403 (see
// TestAllowWatchAndUserAPI).
func TestWatchUserOfflineOrSilent(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	tokenFor(t, ts, "carol")
	resp, body := post(t, ts, "/whep/users/carol", offerOf(t, webrtc.RTPTransceiverDirectionRecvonly), alice)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "carol is offline") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("carol offline: %d %s", resp.StatusCode, body)
	}
	openFeed(t, ts, bob, "").wait(t, "hello", 5*time.Second, nil)
	resp, body = post(t, ts, "/whep/users/bob", offerOf(t, webrtc.RTPTransceiverDirectionRecvonly), alice)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "bob did not answer") {
		t.Fatalf("bob silent: %d %s", resp.StatusCode, body)
	}
}

// postJSON sends JSON as token.
func postJSON(t *testing.T, ts *testServer, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	resp, out := apiAs(t, ts, token, method, path, body)
	var m map[string]any
	_ = json.Unmarshal([]byte(out), &m)
	return resp.StatusCode, m
}

// Alice calls Bob: Bob's pages ring, he answers, each publishes and views
// the other, a third user can neither see, view nor end the call; Alice
// hangs up, all four sessions end and both are told.
func TestCall(t *testing.T) {
	ts := callServer(t)
	alice, bob, carol := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob"), tokenFor(t, ts, "carol")
	aliceFeed, bobFeed := openFeed(t, ts, alice, ""), openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	aliceFeed.wait(t, "presence", 5*time.Second, func(e sseEvent) bool { return e.Data["user"] == "bob" && e.Data["online"] == true })

	start := time.Now()
	status, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	if status != http.StatusCreated || c["state"] != "ringing" {
		t.Fatalf("place: %d %+v", status, c)
	}
	id := c["id"].(string)
	streams := c["streams"].(map[string]any)
	if streams["alice"] != "calls/"+id+"/alice" || streams["bob"] != "calls/"+id+"/bob" {
		t.Fatalf("streams: %+v", streams)
	}
	// Alice's page publishes and starts viewing at once; her WHEP waits.
	alicePub := startPublisher(t, ts, "calls/"+id+"/alice", 30, bearer(alice)...)
	aliceView := startViewerAsync(t, ts, "calls/"+id+"/bob", bearer(alice)...)

	ev := bobFeed.wait(t, "call-incoming", 5*time.Second, nil)
	if callOf(ev)["id"] != id || callOf(ev)["caller"] != "alice" {
		t.Fatalf("call-incoming: %+v", ev.Data)
	}
	if status, _ := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls/"+id+"/accept", ""); status != http.StatusForbidden {
		t.Fatalf("caller accepts: %d", status)
	}
	if status, c := postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls/"+id+"/accept", ""); status != http.StatusOK || c["state"] != "active" {
		t.Fatalf("accept: %d %+v", status, c)
	}
	aliceFeed.wait(t, "call-accepted", 5*time.Second, nil)
	bobPub := startPublisher(t, ts, "calls/"+id+"/bob", 30, bearer(bob)...)
	bobView := startViewer(t, ts, "calls/"+id+"/alice", bearer(bob)...)
	av := aliceView()
	next(t, av.video, 5*time.Second)
	next(t, bobView.video, 5*time.Second)
	t.Logf("POST /calls to both sides receiving video: %s", time.Since(start).Round(time.Millisecond))

	// A third user.
	if status, _ := postJSON(t, ts, carol, http.MethodGet, "/api/v1/calls/"+id, ""); status != http.StatusForbidden {
		t.Fatalf("carol sees the call: %d", status)
	}
	if status, _ := postJSON(t, ts, carol, http.MethodDelete, "/api/v1/calls/"+id, ""); status != http.StatusForbidden {
		t.Fatalf("carol ends the call: %d", status)
	}
	if resp, body := post(t, ts, "/whep/calls/"+id+"/alice", offerOf(t, webrtc.RTPTransceiverDirectionRecvonly), carol); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("carol views alice: %d %s", resp.StatusCode, body)
	}
	if resp, body := post(t, ts, "/whip/calls/"+id+"/carol", offerOf(t, webrtc.RTPTransceiverDirectionSendonly), carol); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("carol publishes into the call: %d %s", resp.StatusCode, body)
	}

	if status, c := postJSON(t, ts, alice, http.MethodDelete, "/api/v1/calls/"+id, ""); status != http.StatusOK || c["end_reason"] != "hangup" {
		t.Fatalf("hang up: %d %+v", status, c)
	}
	for _, f := range []*eventFeed{aliceFeed, bobFeed} {
		ev := f.wait(t, "call-ended", 5*time.Second, nil)
		if callOf(ev)["end_reason"] != "hangup" {
			t.Fatalf("call-ended: %+v", ev.Data)
		}
	}
	for _, p := range []*peer{alicePub.peer, bobPub.peer, av.peer, bobView.peer} {
		sid := strings.TrimPrefix(p.location, "/sessions/")
		eventually(t, 5*time.Second, "the call's sessions to end", func() bool { return ts.sessions.Get(sid) == nil })
	}
	status, h := postJSON(t, ts, bob, http.MethodGet, "/api/v1/calls/history", "")
	calls, _ := h["calls"].([]any)
	if status != http.StatusOK || len(calls) != 1 || calls[0].(map[string]any)["id"] != id {
		t.Fatalf("history: %d %+v", status, h)
	}
}

// A call ends for good reasons: declined, busy, unanswered, callee
// offline, a participant's stream gone.
func TestCallEndings(t *testing.T) {
	ts := callServer(t)
	alice, bob, carol := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob"), tokenFor(t, ts, "carol")
	tokenFor(t, ts, "dave")
	aliceFeed, bobFeed := openFeed(t, ts, alice, ""), openFeed(t, ts, bob, "")
	openFeed(t, ts, carol, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)

	status, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"dave"}`)
	if status != http.StatusConflict || c["code"] != "offline" || !strings.Contains(c["detail"].(string), "dave is offline") {
		t.Fatalf("calling someone offline: %d %+v", status, c)
	}
	if status, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"alice"}`); status != http.StatusForbidden {
		t.Fatalf("calling yourself: %d %+v", status, c)
	}

	// Declined.
	_, c = postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	id := c["id"].(string)
	bobFeed.wait(t, "call-incoming", 5*time.Second, nil)
	// Busy: Bob is already ringing.
	if status, c := postJSON(t, ts, carol, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`); status != http.StatusConflict || c["code"] != "busy" {
		t.Fatalf("calling someone busy: %d %+v", status, c)
	}
	if status, c := postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls/"+id+"/decline", ""); status != http.StatusOK || c["end_reason"] != "declined" {
		t.Fatalf("decline: %d %+v", status, c)
	}
	aliceFeed.wait(t, "call-ended", 5*time.Second, func(e sseEvent) bool { return callOf(e)["end_reason"] == "declined" })

	// Nobody answers.
	_, c = postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	id = c["id"].(string)
	aliceFeed.wait(t, "call-ended", 5*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id && callOf(e)["end_reason"] == "timeout" })

	// Bob's stream drops mid-call.
	_, c = postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	id = c["id"].(string)
	postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls/"+id+"/accept", "")
	startPublisher(t, ts, "calls/"+id+"/alice", 30, bearer(alice)...)
	bp := startPublisher(t, ts, "calls/"+id+"/bob", 30, bearer(bob)...)
	eventually(t, 5*time.Second, "bob's call stream to be live", func() bool { return ts.hub.IsLive("calls/" + id + "/bob") })
	// Bob's page goes away (its session ends) and does not come back.
	bp.Stop()
	if resp, _ := do(t, http.MethodDelete, ts.URL+bp.location, "", bearer(bob)...); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob's publisher leaves: %d", resp.StatusCode)
	}
	aliceFeed.wait(t, "call-ended", 10*time.Second, func(e sseEvent) bool { return callOf(e)["id"] == id && callOf(e)["end_reason"] == "dropped" })

	status, h := postJSON(t, ts, alice, http.MethodGet, "/api/v1/calls/history", "")
	var reasons []string
	for _, x := range h["calls"].([]any) {
		reasons = append(reasons, x.(map[string]any)["end_reason"].(string))
	}
	slices.Sort(reasons)
	if status != http.StatusOK || !slices.Equal(reasons, []string{"declined", "dropped", "offline", "timeout"}) {
		t.Fatalf("alice's history: %d %v", status, reasons)
	}
}

// The event feed: presence for everyone, replay after Last-Event-ID,
// bounded per user, only for signed-in users.
func TestEventFeed(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	aliceFeed := openFeed(t, ts, alice, "")
	hello := aliceFeed.wait(t, "hello", 5*time.Second, nil)
	if hello.Data["user"] != "alice" {
		t.Fatalf("hello: %+v", hello.Data)
	}
	bobFeed := openFeed(t, ts, bob, "")
	ev := aliceFeed.wait(t, "presence", 5*time.Second, func(e sseEvent) bool { return e.Data["user"] == "bob" })
	if ev.Data["online"] != true || ev.ID == "" {
		t.Fatalf("presence: %+v", ev)
	}
	// Alice's page reloads: while her feed is closed, Bob calls.
	aliceFeed.close()
	_, c := postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls", `{"callee":"alice"}`)
	id, _ := c["id"].(string)
	if id == "" {
		t.Fatalf("bob calls alice during her reload: %+v", c)
	}
	again := openFeed(t, ts, alice, ev.ID)
	h := again.wait(t, "hello", 5*time.Second, nil)
	if calls, _ := h.Data["calls"].([]any); len(calls) != 1 {
		t.Fatalf("hello after reload lists no call: %+v", h.Data)
	}
	in := again.wait(t, "call-incoming", 5*time.Second, nil)
	if callOf(in)["id"] != id {
		t.Fatalf("replayed call-incoming: %+v", in.Data)
	}
	postJSON(t, ts, bob, http.MethodDelete, "/api/v1/calls/"+id, "")

	// Bob closes his page: everyone sees him go offline.
	bobFeed.close()
	again.wait(t, "presence", 5*time.Second, func(e sseEvent) bool { return e.Data["user"] == "bob" && e.Data["online"] == false })

	for range 7 { // alice holds one already
		openFeed(t, ts, alice, "")
	}
	if _, resp := tryFeed(t, ts, alice, ""); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("ninth feed: %d", resp.StatusCode)
	}
	resp, _ := do(t, http.MethodGet, ts.URL+"/api/v1/events", "", anonymous, "1")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous feed: %d", resp.StatusCode)
	}
	key, _ := createKey(t, ts, alice, `{"action":"publish","stream":"users/alice"}`, http.StatusCreated)
	if _, resp := tryFeed(t, ts, key, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a publish key opens the feed: %d", resp.StatusCode)
	}
}

// A participant without a camera (only viewing) keeps the call; the call
// drops once they have no session in it at all.
func TestCallWithoutCamera(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	aliceFeed := openFeed(t, ts, alice, "")
	openFeed(t, ts, bob, "").wait(t, "hello", 5*time.Second, nil)
	_, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	id := c["id"].(string)
	startPublisher(t, ts, "calls/"+id+"/alice", 30, bearer(alice)...)
	postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls/"+id+"/accept", "")
	v := startViewer(t, ts, "calls/"+id+"/alice", bearer(bob)...)
	next(t, v.video, 5*time.Second)
	time.Sleep(2 * ts.cfg.Calls.DropGrace) // no event expected: waiting is the test
	if status, c := postJSON(t, ts, alice, http.MethodGet, "/api/v1/calls/"+id, ""); status != http.StatusOK || c["state"] != "active" {
		t.Fatalf("a call with a camera-less callee: %d %+v", status, c)
	}
	if resp, _ := do(t, http.MethodDelete, ts.URL+v.location, "", bearer(bob)...); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob leaves: %d", resp.StatusCode)
	}
	aliceFeed.wait(t, "call-ended", 10*time.Second, func(e sseEvent) bool { return callOf(e)["end_reason"] == "dropped" })
}

// Two users calling each other at the same moment get one call: the
// second POST answers the first.
func TestCallGlare(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	aliceFeed := openFeed(t, ts, alice, "")
	openFeed(t, ts, bob, "").wait(t, "hello", 5*time.Second, nil)
	_, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	status, c2 := postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls", `{"callee":"alice"}`)
	if status != http.StatusOK || c2["id"] != c["id"] || c2["state"] != "active" {
		t.Fatalf("bob calls alice back: %d %+v", status, c2)
	}
	aliceFeed.wait(t, "call-accepted", 5*time.Second, nil)
	if st := ts.bridge.Stats(); st.Started != 1 || st.Active != 1 {
		t.Fatalf("one call placed and active, not %+v", st)
	}
}

// Turning "let others watch me" off ends the viewers already watching,
// not only new ones; a call's streams stay private from admins too.
func TestRefusalEndsRunningViewers(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	v := answer()
	next(t, v.video, 5*time.Second)
	if resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"allow_watch":false}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob refuses: %d %s", resp.StatusCode, body)
	}
	id := strings.TrimPrefix(v.location, "/sessions/")
	eventually(t, 3*time.Second, "alice's running viewer session to end", func() bool { return ts.sessions.Get(id) == nil })

	openFeed(t, ts, alice, "").wait(t, "hello", 5*time.Second, nil)
	_, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	callID := c["id"].(string)
	startPublisher(t, ts, "calls/"+callID+"/alice", 30, bearer(alice)...)
	if resp, body := post(t, ts, "/whep/calls/"+callID+"/alice", offerOf(t, webrtc.RTPTransceiverDirectionRecvonly), ts.AdminToken); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an admin views a call's stream: %d %s", resp.StatusCode, body)
	}
}

// Refusing while a viewer waits fails that viewer at once, and a page of
// the user opening then is not asked to publish.
func TestRefusalWhileViewerWaits(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	offer := offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	type result struct {
		status int
		body   string
	}
	waited := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/whep/users/bob", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			waited <- result{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		waited <- result{resp.StatusCode, string(b)}
	}()
	bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	if resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"allow_watch":false}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob refuses: %d %s", resp.StatusCode, body)
	}
	select {
	case r := <-waited:
		if r.status != http.StatusConflict || !strings.Contains(r.body, "does not allow being watched") {
			t.Fatalf("alice's waiting WHEP: %d %s", r.status, r.body)
		}
	case <-time.After(time.Second):
		t.Fatal("alice's WHEP still waits after bob refused")
	}
	hello := openFeed(t, ts, bob, "").wait(t, "hello", 5*time.Second, nil)
	if hello.Data["publish_request"] != nil {
		t.Fatalf("a new page of bob is asked to publish after he refused: %+v", hello.Data)
	}
}
