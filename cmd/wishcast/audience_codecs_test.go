package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// anyStrings converts a JSON list of strings.
func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// When Alice opens Bob's camera, the publish-request Bob's page gets
// lists the video codecs of Alice's WHEP offer, in her order and without
// RTX or FEC, so that his page sends one she decodes.
func TestWatchRequestNamesViewerCodecs(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	answer := startViewerAsync(t, ts, "users/bob", bearer(alice)...)
	ev := bobFeed.wait(t, "publish-request", 5*time.Second, nil)
	codecs := anyStrings(ev.Data["codecs"])
	if ev.Data["stream"] != "users/bob" || len(codecs) == 0 || codecs[0] != "VP8" || !slices.Contains(codecs, "H264") {
		t.Fatalf("publish-request %+v; want users/bob with the viewer's codecs, VP8 first", ev.Data)
	}
	for _, c := range codecs {
		if strings.EqualFold(c, "rtx") || strings.EqualFold(c, "ulpfec") || strings.EqualFold(c, "red") {
			t.Fatalf("publish-request lists %s: %v", c, codecs)
		}
	}
	startPublisher(t, ts, "users/bob", 30, bearer(bob)...)
	next(t, answer().video, 5*time.Second)
}

// In a call each page says what it decodes: the caller with the call, the
// callee when accepting. The call-incoming event names the caller's
// codecs (the callee's page sends one of them) and call-accepted both;
// a list that is not codec names is refused.
func TestCallNamesEachSidesCodecs(t *testing.T) {
	ts := callServer(t)
	alice, bob := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob")
	aliceFeed, bobFeed := openFeed(t, ts, alice, ""), openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	aliceFeed.wait(t, "presence", 5*time.Second, func(e sseEvent) bool { return e.Data["user"] == "bob" && e.Data["online"] == true })

	for _, bad := range []string{`{"callee":"bob","codecs":["VP8;x"]}`, `{"callee":"bob","codecs":["` + strings.Repeat("V", 40) + `"]}`} {
		if status, _ := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", bad); status != http.StatusBadRequest {
			t.Fatalf("place with %s: %d, want 400", bad, status)
		}
	}
	status, c := postJSON(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob","codecs":["VP8","VP9","AV1"]}`)
	if status != http.StatusCreated {
		t.Fatalf("place: %d %+v", status, c)
	}
	id := c["id"].(string)
	ev := bobFeed.wait(t, "call-incoming", 5*time.Second, nil)
	codecs, _ := callOf(ev)["codecs"].(map[string]any)
	if got := anyStrings(codecs["alice"]); !slices.Equal(got, []string{"VP8", "VP9", "AV1"}) {
		t.Fatalf("call-incoming names alice's codecs %v; want VP8 VP9 AV1", got)
	}
	if status, c := postJSON(t, ts, bob, http.MethodPost, "/api/v1/calls/"+id+"/accept", `{"codecs":["H264","VP8"]}`); status != http.StatusOK || c["state"] != "active" {
		t.Fatalf("accept: %d %+v", status, c)
	}
	ev = aliceFeed.wait(t, "call-accepted", 5*time.Second, nil)
	codecs, _ = callOf(ev)["codecs"].(map[string]any)
	if got := anyStrings(codecs["bob"]); !slices.Equal(got, []string{"H264", "VP8"}) {
		t.Fatalf("call-accepted names bob's codecs %v; want H264 VP8", got)
	}
	if got := anyStrings(codecs["alice"]); !slices.Equal(got, []string{"VP8", "VP9", "AV1"}) {
		t.Fatalf("call-accepted names alice's codecs %v; want VP8 VP9 AV1", got)
	}
}
