package main

import (
	"net/http"
	"testing"
	"time"
)

// feedEnds fails the test unless f closes within d.
func feedEnds(t *testing.T, f *eventFeed, d time.Duration, what string) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(d):
		t.Fatalf("%s: the page's event feed still open %s later", what, d)
	}
}

// Signing out, revoking a sign-in and disabling an account on one node
// end the pages open on the other nodes at once (the revocation reaches
// them over LISTEN/NOTIFY), although their own check of the open pages
// runs only every 10 minutes here; a sign-in removed without any
// notification (as when a node was not listening) ends its page on the
// next check, one query per node for all its pages.
func TestClusterFeedRevocation(t *testing.T) {
	db := postgresStore(t).url
	const rare, prompt = "10m", 3 * time.Second
	n1 := startNode(t, "127.0.0.11", db, "WISHCAST_EVENTS_HEARTBEAT", rare)
	n2 := startNode(t, "127.0.0.12", db, "WISHCAST_EVENTS_HEARTBEAT", rare)
	n3 := startNode(t, "127.0.0.13", db, "WISHCAST_EVENTS_HEARTBEAT", "1s")
	dan, erin, fay := tokenFor(t, n1, "dan"), tokenFor(t, n1, "erin"), tokenFor(t, n1, "fay")
	dan2 := signInAs(t, n1.URL, "dan", "password-dan")

	signedOut, other := openFeed(t, n2, dan, ""), openFeed(t, n3, dan2, "")
	disabled := openFeed(t, n3, erin, "")
	for _, f := range []*eventFeed{signedOut, other, disabled} {
		f.wait(t, "hello", 5*time.Second, nil)
	}

	resp, body := apiAs(t, n1, dan, http.MethodPost, "/api/v1/logout", "")
	wantStatus(t, "dan signs out on node 1", resp, body, http.StatusNoContent)
	feedEnds(t, signedOut, prompt, "dan signed out on node 1, page on node 2")
	select {
	case <-other.done:
		t.Fatal("dan's other sign-in lost its page on node 3")
	case <-time.After(300 * time.Millisecond):
	}

	resp, body = apiAs(t, n1, "", http.MethodPatch, "/api/v1/users/erin", `{"disabled":true}`)
	wantStatus(t, "disable erin on node 1", resp, body, http.StatusOK)
	feedEnds(t, disabled, prompt, "erin disabled on node 1, page on node 3")

	// Behind every node's back: no notification; node 3 checks its
	// pages every second.
	lost := openFeed(t, n3, fay, "")
	lost.wait(t, "hello", 5*time.Second, nil)
	pgExec(t, db, "DELETE FROM tokens WHERE owner = 'fay'")
	feedEnds(t, lost, 5*time.Second, "fay's sign-in deleted without a notification, page on node 3")
	select {
	case <-other.done:
		t.Fatal("dan's remaining sign-in lost its page on node 3 at a check")
	default:
	}
}
