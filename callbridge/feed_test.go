package callbridge

import (
	"log/slog"
	"testing"
	"time"
)

// bareBridge is a bridge without hub, store or sessions, for the feed's
// own bookkeeping.
func bareBridge(cfg Config) *Bridge {
	return &Bridge{
		cfg: cfg.withDefaults(), log: slog.New(slog.DiscardHandler),
		feeds: map[string][]*feed{}, online: map[string]bool{}, leaving: map[string]*time.Timer{},
		calls: map[string]*call{}, inCall: map[string]string{}, requested: map[string]*watchRequest{},
		watchers: map[string][]string{}, shown: map[string][]string{}, ended: map[string]uint64{},
	}
}

// A feed that does not keep up is dropped rather than blocking the
// bridge; its page reconnects and catches up with Last-Event-ID.
func TestSlowFeedIsDropped(t *testing.T) {
	b := bareBridge(Config{})
	f, _, _, err := b.subscribe("alice", "t1", 0)
	if err != nil {
		t.Fatal(err)
	}
	<-f.ch // alice's own presence event
	b.mu.Lock()
	for i := range feedQueue {
		b.emitLocked("alice", "test", i)
	}
	b.mu.Unlock()
	select {
	case <-f.gone:
		t.Fatal("a feed with a full queue but not overflowing was dropped")
	default:
	}
	b.mu.Lock()
	b.emitLocked("alice", "test", "one too many")
	b.mu.Unlock()
	select {
	case <-f.gone:
	default:
		t.Fatal("an overflowing feed was kept")
	}
}

// The replay buffer keeps a bounded number of recent events, and a
// reconnecting feed gets exactly those after its Last-Event-ID that are
// its own or everyone's.
func TestReplay(t *testing.T) {
	b := bareBridge(Config{})
	b.mu.Lock()
	for i := range 3 * recentEvents {
		to := "alice"
		if i%2 == 1 {
			to = "bob"
		}
		b.emitLocked(to, "test", i)
	}
	last := b.seq
	if len(b.recent) != recentEvents || b.recent[0].id != last-recentEvents+1 {
		b.mu.Unlock()
		t.Fatalf("replay buffer holds %d events from id %d", len(b.recent), b.recent[0].id)
	}
	b.emitLocked("", "presence", map[string]any{"user": "carol"})
	b.mu.Unlock()

	_, missed, hello, err := b.subscribe("alice", "t1", last-10)
	if err != nil {
		t.Fatal(err)
	}
	// Of the 10 after last-10, alice's are every other one, then the
	// broadcast presence; her own presence goes to the queue, not twice.
	if len(missed) != 6 || missed[5].typ != "presence" || missed[5].id != last+1 {
		t.Fatalf("missed %d events", len(missed))
	}
	for _, e := range missed[:5] {
		if e.to != "alice" || e.id <= last-10 {
			t.Fatalf("replayed %+v", e)
		}
	}
	if hello["user"] != "alice" {
		t.Fatalf("hello %+v", hello)
	}
}

// Feeds are capped per user and in total.
func TestFeedCaps(t *testing.T) {
	b := bareBridge(Config{FeedsPerUser: 2, MaxFeeds: 3})
	for _, u := range []string{"alice", "alice", "bob"} {
		if _, _, _, err := b.subscribe(u, "t", 0); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if _, _, _, err := b.subscribe("alice", "t1", 0); err == nil {
		t.Fatal("a third feed for alice was accepted")
	}
	if _, _, _, err := b.subscribe("carol", "t", 0); err == nil {
		t.Fatal("a fourth feed in total was accepted")
	}
}

// Event ids carry the process's epoch: an id from before a restart
// replays nothing rather than the new numbering's events. In a cluster
// they carry the node too: another node's id is told apart from both.
func TestEventIDs(t *testing.T) {
	b := bareBridge(Config{})
	b.epoch = "abc"
	if got := b.format(&event{id: 7, typ: "presence", data: []byte(`{}`)}); got != "id: abc-7\nevent: presence\ndata: {}\n\n" {
		t.Fatalf("formatted %q", got)
	}
	for v, want := range map[string]uint64{"abc-7": 7, " abc-12 ": 12, "xyz-7": 0, "7": 0, "abc-": 0, "abc-x": 0, "abc-0": 0, "": 0, "n2.abc-7": 0} {
		if got, node := b.parseEventID(v); got != want || node != "" {
			t.Errorf("Last-Event-ID %q alone: %d %q, want %d", v, got, node, want)
		}
	}

	b.SetNode("node-1")
	b.SetNode("node-1") // once is enough
	if got := b.format(&event{id: 7, typ: "presence", data: []byte(`{}`)}); got != "id: node-1.abc-7\nevent: presence\ndata: {}\n\n" {
		t.Fatalf("formatted in a cluster %q", got)
	}
	for v, want := range map[string]struct {
		id   uint64
		node string
	}{
		"node-1.abc-7": {7, ""}, "node-1.xyz-7": {0, ""}, "abc-7": {0, ""}, "node-2.abc-7": {0, "node-2"},
		"node-2.q-3": {0, "node-2"}, "node-2.q-": {0, ""}, ".abc-7": {0, ""},
	} {
		if id, node := b.parseEventID(v); id != want.id || node != want.node {
			t.Errorf("Last-Event-ID %q in a cluster: %d %q, want %d %q", v, id, node, want.id, want.node)
		}
	}
}

// A page that resumes after events that have left the replay buffer,
// or the replay window, is told to resynchronise; one that missed
// nothing, or only what is kept, is not.
func TestReplayCompleteness(t *testing.T) {
	b := bareBridge(Config{ReplayWindow: time.Minute})
	// Alice online first: her later feeds add no presence event.
	if _, _, _, err := b.subscribe("alice", "t", 0); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	for i := range recentEvents + 10 {
		b.emitLocked("", "test", i)
	}
	last := b.seq
	b.mu.Unlock()
	for _, tc := range []struct {
		after  uint64
		resync bool
	}{{last, false}, {last - 5, false}, {last - recentEvents, false}, {last - recentEvents - 1, true}, {1, true}, {last + 1, true}} {
		_, _, hello, err := b.subscribe("alice", "t", tc.after)
		if err != nil {
			t.Fatal(err)
		}
		if got := hello["resync"] == true; got != tc.resync {
			t.Errorf("after %d (last %d): resync %v, want %v", tc.after, last, got, tc.resync)
		}
	}
	// Kept but older than the window: the page cannot have them all.
	b.mu.Lock()
	for _, e := range b.recent[len(b.recent)-3:] {
		e.at = e.at.Add(-2 * time.Minute)
	}
	b.mu.Unlock()
	if _, _, hello, _ := b.subscribe("alice", "t", last-5); hello["resync"] != true {
		t.Error("events past the replay window: no resync")
	}
}
