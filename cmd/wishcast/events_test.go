package main

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// sseEvent is one server-sent event as a test reads it.
type sseEvent struct {
	ID, Type string
	Data     map[string]any
}

// eventFeed is an open GET /api/v1/events.
type eventFeed struct {
	events chan sseEvent
	status int
	cancel context.CancelFunc
	done   chan struct{}
}

// openFeed opens the event feed with token (and Last-Event-ID lastID if
// not empty); it fails the test unless the server answers 200.
func openFeed(t *testing.T, ts *testServer, token, lastID string) *eventFeed {
	t.Helper()
	f, resp := tryFeed(t, ts, token, lastID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event feed: %d", resp.StatusCode)
	}
	return f
}

// tryFeed opens the event feed and returns the response, whatever it is.
func tryFeed(t *testing.T, ts *testServer, token, lastID string) (*eventFeed, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	f := &eventFeed{events: make(chan sseEvent, 256), status: resp.StatusCode, cancel: cancel, done: make(chan struct{})}
	t.Cleanup(f.close)
	go func() {
		defer close(f.done)
		defer resp.Body.Close()
		defer close(f.events)
		if resp.StatusCode != http.StatusOK {
			return
		}
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Type != "" {
					f.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.Type = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data)
			}
		}
	}()
	return f, resp
}

// close ends the feed and waits for its reader.
func (f *eventFeed) close() {
	f.cancel()
	<-f.done
}

// wait returns the next event of type typ for which match (if not nil)
// holds, skipping others; it fails the test after within.
func (f *eventFeed) wait(t *testing.T, typ string, within time.Duration, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				t.Fatalf("event feed closed while waiting for %s", typ)
			}
			if ev.Type == typ && (match == nil || match(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", typ, within)
		}
	}
}

// waitAll waits, within one deadline, for one event of each type in want
// (with its match, nil for any), in whatever order they come.
func (f *eventFeed) waitAll(t *testing.T, within time.Duration, want map[string]func(sseEvent) bool) {
	t.Helper()
	deadline := time.After(within)
	for len(want) > 0 {
		select {
		case ev, ok := <-f.events:
			if !ok {
				t.Fatalf("event feed closed while waiting for %d more events", len(want))
			}
			if match, wanted := want[ev.Type]; wanted && (match == nil || match(ev)) {
				delete(want, ev.Type)
			}
		case <-deadline:
			t.Fatalf("events not seen within %s: %v", within, slices.Collect(maps.Keys(want)))
		}
	}
}

// callOf returns the "call" object of a call event.
func callOf(ev sseEvent) map[string]any {
	c, _ := ev.Data["call"].(map[string]any)
	return c
}

// Signing out closes the feeds opened with that sign-in at once; feeds of
// another sign-in of the same user stay.
func TestFeedEndsOnSignOut(t *testing.T) {
	ts := callServer(t)
	tokenFor(t, ts, "alice")
	_, other, err := ts.accounts.Login(t.Context(), "alice", "password-alice", "test")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := ts.accounts.Login(t.Context(), "alice", "password-alice", "test")
	if err != nil {
		t.Fatal(err)
	}
	f, stays := openFeed(t, ts, tok, ""), openFeed(t, ts, other, "")
	f.wait(t, "hello", 5*time.Second, nil)
	stays.wait(t, "hello", 5*time.Second, nil)
	if resp, _ := apiAs(t, ts, tok, http.MethodPost, "/api/v1/logout", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	select {
	case <-f.done:
	case <-time.After(3 * time.Second):
		t.Fatal("the signed-out feed is still open")
	}
	select {
	case <-stays.done:
		t.Fatal("the other sign-in's feed was closed")
	case <-time.After(300 * time.Millisecond):
	}
}
