package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Calls are rate-limited: 40 call-and-hang-up pairs in a row ring the
// callee's page a handful of times, not 40; the caller gets 429 with
// Retry-After and the setting's name, and other callers of the same
// person are held back by the callee's own limit.
func TestCallRateLimits(t *testing.T) {
	ts := callServer(t)
	alice, bob, carol := tokenFor(t, ts, "alice"), tokenFor(t, ts, "bob"), tokenFor(t, ts, "carol")
	bobFeed := openFeed(t, ts, bob, "")
	bobFeed.wait(t, "hello", 5*time.Second, nil)
	eventually(t, 5*time.Second, "bob to be online", func() bool { return ts.bridge.Online("bob") })

	placed, refused := 0, 0
	for range 40 {
		resp, body := apiAs(t, ts, alice, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
		switch resp.StatusCode {
		case http.StatusCreated:
			placed++
			id := body[strings.Index(body, `"id":"`)+6:]
			id = id[:strings.Index(id, `"`)]
			resp, body := apiAs(t, ts, alice, http.MethodDelete, "/api/v1/calls/"+id, "")
			wantStatus(t, "hang up", resp, body, http.StatusOK)
		case http.StatusTooManyRequests:
			refused++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "CALLS_PER_MINUTE") {
				t.Fatalf("429 without Retry-After or the setting: %v %s", resp.Header, body)
			}
		default:
			t.Fatalf("place: %d %s", resp.StatusCode, body)
		}
	}
	if placed != 5 || refused != 35 {
		t.Fatalf("40 calls in a row: %d placed, %d refused; want 5 and 35", placed, refused)
	}
	rings := 0
	quiet := time.After(time.Second)
	for done := false; !done; {
		select {
		case ev := <-bobFeed.events:
			if ev.Type == "call-incoming" {
				rings++
			}
		case <-quiet:
			done = true
		}
	}
	if rings != placed {
		t.Fatalf("bob's page rang %d times for %d calls placed", rings, placed)
	}

	// Bob has been rung as often as a minute allows: carol, with calls
	// of her own to spare, is held back too.
	resp, body := apiAs(t, ts, carol, http.MethodPost, "/api/v1/calls", `{"callee":"bob"}`)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "RINGS_PER_MINUTE") {
		t.Fatalf("carol calling bob: %d %s; want 429 naming RINGS_PER_MINUTE", resp.StatusCode, body)
	}
}
