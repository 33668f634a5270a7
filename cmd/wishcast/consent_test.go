package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// whepResult is the answer to a WHEP POST sent in the background.
type whepResult struct {
	status int
	body   string
	header http.Header
}

// whepAsync sends a WHEP POST for stream as token in the background; the
// channel gets its answer. Cancelling ctx gives the request up.
func whepAsync(ctx context.Context, t *testing.T, ts *testServer, stream, token string) <-chan whepResult {
	t.Helper()
	offer := offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	out := make(chan whepResult, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/whep/"+stream, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- whepResult{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- whepResult{resp.StatusCode, string(b), resp.Header}
	}()
	return out
}

// await returns the answer on ch, failing the test after within.
func await(t *testing.T, ch <-chan whepResult, within time.Duration, what string) whepResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("no answer to %s within %s", what, within)
		return whepResult{}
	}
}

// Bob chose to be asked each time: a viewer's WHEP waits while Bob's page
// shows a prompt naming the viewer; Allow lets the request go on to the
// camera, Deny is a 403 in words, no answer a 409. An allowed viewer
// comes back without a prompt while the camera is on; a denied one gets
// 403 again without bothering Bob; a viewer who gives up takes the
// prompt down; only Bob answers his prompts.
func TestWatchAsk(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Stream.OnDemandTimeout = 3 * time.Second
		c.Calls.AskTimeout = 1500 * time.Millisecond
		c.Calls.PresenceGrace = 200 * time.Millisecond
	})
	alice, bob, carol, dave := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob"), tokenFor(t, ts, "carol"), tokenFor(t, ts, "dave")
	if resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"watch":"ask"}`); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"watch":"ask"`) {
		t.Fatalf("bob chooses to be asked: %d %s", resp.StatusCode, body)
	}
	if _, body := apiAs(t, ts, alice, http.MethodGet, "/api/v1/users/bob", ""); !strings.Contains(body, `"watch_asks":true`) || !strings.Contains(body, `"allow_watch":true`) {
		t.Fatalf("bob as alice sees him: %s", body)
	}
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)

	// Alice asks; Bob allows; the camera starts and media flows.
	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	ask := bobFeed.wait(t, "watch-ask", 5*time.Second, nil)
	if ask.Data["viewer"] != "alice" || ask.Data["id"] == "" {
		t.Fatalf("watch-ask: %+v", ask.Data)
	}
	id := ask.Data["id"].(string)
	if resp, body := apiAs(t, ts, carol, http.MethodPost, "/api/v1/watch-asks/"+id, `{"allow":true}`); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("carol answers bob's prompt: %d %s", resp.StatusCode, body)
	}
	if resp, body := apiAs(t, ts, bob, http.MethodPost, "/api/v1/watch-asks/"+id, `{"allow":"yes"}`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a malformed answer: %d %s", resp.StatusCode, body)
	}
	if resp, body := apiAs(t, ts, bob, http.MethodPost, "/api/v1/watch-asks/"+id, `{"allow":true}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("bob allows: %d %s", resp.StatusCode, body)
	}
	bobFeed.waitAll(t, 5*time.Second, map[string]func(sseEvent) bool{
		"watch-ask-end":   func(e sseEvent) bool { return e.Data["id"] == id && e.Data["allowed"] == true },
		"publish-request": nil,
	})
	startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	next(t, answer().video, 5*time.Second)

	// Alice again while the camera is on: no prompt.
	start := time.Now()
	next(t, startViewer(t, ts, "users/bob", bearer(alice)...).video, 5*time.Second)
	t.Logf("alice's second viewer, already allowed, got media %s after its POST", time.Since(start).Round(time.Millisecond))

	// Carol asks; Bob denies: 403 in words. Asking again is refused at
	// once, without a prompt.
	carolAsk := whepAsync(t.Context(), t, ts, "users/bob", carol)
	ask = bobFeed.wait(t, "watch-ask", 5*time.Second, nil)
	if ask.Data["viewer"] != "carol" {
		t.Fatalf("watch-ask: %+v", ask.Data)
	}
	apiAs(t, ts, bob, http.MethodPost, "/api/v1/watch-asks/"+ask.Data["id"].(string), `{"allow":false}`)
	if r := await(t, carolAsk, 5*time.Second, "carol's request"); r.status != http.StatusForbidden || !strings.Contains(r.body, "bob did not allow you to watch them") {
		t.Fatalf("carol, denied: %d %s", r.status, r.body)
	}
	if r := await(t, whepAsync(t.Context(), t, ts, "users/bob", carol), time.Second, "carol's second request"); r.status != http.StatusForbidden {
		t.Fatalf("carol again: %d %s", r.status, r.body)
	}

	// Dave asks and Bob does not answer: 409 after WATCH_ASK_TIMEOUT. The
	// next prompt Bob sees is Dave's: Carol's second request made none.
	start = time.Now()
	daveAsk := whepAsync(t.Context(), t, ts, "users/bob", dave)
	ask = bobFeed.wait(t, "watch-ask", 5*time.Second, nil)
	if ask.Data["viewer"] != "dave" {
		t.Fatalf("the next prompt is for %v, want dave", ask.Data["viewer"])
	}
	r := await(t, daveAsk, 5*time.Second, "dave's request")
	if r.status != http.StatusConflict || !strings.Contains(r.body, "bob did not answer") || r.header.Get("Retry-After") == "" {
		t.Fatalf("dave, unanswered: %d %s %v", r.status, r.body, r.header)
	}
	if d := time.Since(start); d < ts.cfg.Calls.AskTimeout {
		t.Fatalf("dave heard %s after asking; want WATCH_ASK_TIMEOUT (%s)", d, ts.cfg.Calls.AskTimeout)
	}
	bobFeed.wait(t, "watch-ask-end", 5*time.Second, func(e sseEvent) bool { return e.Data["viewer"] == "dave" && e.Data["answered"] == false })

	// Someone who gives up takes the prompt down; a new choice forgets
	// the answers.
	if resp, _ := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"watch":"everyone"}`); resp.StatusCode != http.StatusOK {
		t.Fatal("bob lets everyone watch")
	}
	if resp, _ := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"watch":"ask"}`); resp.StatusCode != http.StatusOK {
		t.Fatal("bob asks again")
	}
	ctx, giveUp := context.WithCancel(t.Context())
	carolAsk = whepAsync(ctx, t, ts, "users/bob", carol)
	ask = bobFeed.wait(t, "watch-ask", 5*time.Second, func(e sseEvent) bool { return e.Data["viewer"] == "carol" })
	giveUp()
	<-carolAsk
	bobFeed.wait(t, "watch-ask-end", 5*time.Second, func(e sseEvent) bool { return e.Data["id"] == ask.Data["id"] })
}

// Bob lets only the people he chose watch him: Alice may, Carol and the
// admin may not (403 in words, before any prompt or camera), the list of
// people says so to each; taking Alice off the list ends her viewing.
func TestWatchChosen(t *testing.T) {
	ts := callServer(t)
	alice, bob, carol := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob"), tokenFor(t, ts, "carol")
	resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"watch":"chosen","chosen":["ALICE"]}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"chosen":["alice"]`) {
		t.Fatalf("bob chooses alice: %d %s", resp.StatusCode, body)
	}
	if resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"chosen":["nobody-such"]}`); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "no user nobody-such") {
		t.Fatalf("choosing someone who does not exist: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct {
		token string
		may   bool
	}{{alice, true}, {carol, false}} {
		_, body := apiAs(t, ts, c.token, http.MethodGet, "/api/v1/users/bob", "")
		if want := `"allow_watch":` + map[bool]string{true: "true", false: "false"}[c.may]; !strings.Contains(body, want) || strings.Contains(body, `"chosen"`) {
			t.Errorf("bob as another user sees him: %s; want %s and no list", body, want)
		}
	}
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	for _, tok := range []string{carol, ts.AdminToken} {
		resp, body := post(t, ts, "/whep/users/bob", offerOf(t, webrtc.RTPTransceiverDirectionRecvonly), tok)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "bob lets only people they chose watch them") {
			t.Fatalf("not chosen: %d %s", resp.StatusCode, body)
		}
	}
	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	v := answer()
	next(t, v.video, 5*time.Second)

	if resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"chosen":[]}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob empties his list: %d %s", resp.StatusCode, body)
	}
	id := strings.TrimPrefix(v.location, "/sessions/")
	eventually(t, 3*time.Second, "alice's viewer session to end once she is no longer chosen", func() bool { return ts.sessions.Get(id) == nil })
}

// A prompt put up while Bob's page was reloading is in the hello of the
// page that comes back, with the same id, and answering it there lets the
// waiting viewer in.
func TestWatchAskAfterReload(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Stream.OnDemandTimeout = 3 * time.Second
		c.Calls.AskTimeout = 5 * time.Second
	})
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	if resp, body := apiAs(t, ts, bob, http.MethodPatch, "/api/v1/users/bob", `{"watch":"ask"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob chooses to be asked: %d %s", resp.StatusCode, body)
	}
	first := openFeed(t, ts, bob, "")
	first.wait(t, "hello", 5*time.Second, nil)
	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	ask := first.wait(t, "watch-ask", 5*time.Second, nil)

	// Bob's page reloads: a new feed, which must show the prompt.
	again := openFeed(t, ts, bob, "")
	hello := again.wait(t, "hello", 5*time.Second, nil)
	asks, _ := hello.Data["watch_asks"].([]any)
	if len(asks) != 1 {
		t.Fatalf("hello after the reload carries %d prompts, want 1: %+v", len(asks), hello.Data)
	}
	pending, _ := asks[0].(map[string]any)
	if pending["id"] != ask.Data["id"] || pending["viewer"] != "alice" {
		t.Fatalf("hello's prompt %+v; want the one announced, %+v", pending, ask.Data)
	}
	if left, _ := pending["expires_in"].(float64); left <= 0 || left > 5 {
		t.Fatalf("hello's prompt expires in %v s; want within WATCH_ASK_TIMEOUT", pending["expires_in"])
	}
	if resp, body := apiAs(t, ts, bob, http.MethodPost, "/api/v1/watch-asks/"+pending["id"].(string), `{"allow":true}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("bob allows from the reloaded page: %d %s", resp.StatusCode, body)
	}
	again.wait(t, "publish-request", 5*time.Second, nil)
	startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	next(t, answer().video, 5*time.Second)

	// Nothing waits any more: a third page's hello has no prompt.
	if h := openFeed(t, ts, bob, "").wait(t, "hello", 5*time.Second, nil); h.Data["watch_asks"] != nil {
		t.Fatalf("hello after the answer still carries prompts: %+v", h.Data["watch_asks"])
	}
}
