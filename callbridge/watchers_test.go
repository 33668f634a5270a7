package callbridge

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// Pages hear who watches them: in hello when they open, then in a
// watchers event whenever that changes. A person whose page left this
// node gets no watchers events here any more: this node alone sees only
// part of who watches them (the rest is merged for pages open here), and
// such an event, replayed to their page resuming on another node, would
// undo the whole list that node's hello gave it.
func TestWatchersEventsOnlyForPagesHere(t *testing.T) {
	b := bareBridge(Config{PresenceGrace: time.Hour})
	elsewhere := map[string][]string{"alice": {"bob"}}
	b.watchedElsewhere = func() map[string][]string { return elsewhere }
	watchers := func(f *feed) [][]string {
		var out [][]string
		for {
			select {
			case e := <-f.ch:
				if e.typ == "watchers" {
					var d struct{ Viewers []string }
					if err := json.Unmarshal(e.data, &d); err != nil {
						t.Fatal(err)
					}
					out = append(out, d.Viewers)
				}
			default:
				return out
			}
		}
	}

	f, _, hello, err := b.subscribe("alice", "t1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := hello["watchers"].([]string); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("hello's watchers %v, want bob (watching on another node)", hello["watchers"])
	}
	b.checkWatchers(map[string][]string{"alice": {"carol"}})
	if got := watchers(f); len(got) != 1 || !slices.Equal(got[0], []string{"bob", "carol"}) {
		t.Fatalf("carol watches here too: the page heard %v, want [[bob carol]]", got)
	}
	b.checkWatchers(map[string][]string{"alice": {"carol"}})
	if got := watchers(f); len(got) != 0 {
		t.Fatalf("nothing changed: the page heard %v", got)
	}

	// Alice's page leaves (for another node, say); carol stops watching
	// here; bob still watches elsewhere.
	b.mu.Lock()
	left := b.seq
	b.mu.Unlock()
	b.unsubscribe(f)
	b.checkWatchers(map[string][]string{})
	b.mu.Lock()
	missed, _ := b.missedLocked("alice", left)
	b.mu.Unlock()
	for _, e := range missed {
		if e.typ == "watchers" {
			t.Fatalf("a watchers event for alice after her page left: %s (bob still watches her)", e.data)
		}
	}

	// Back here: hello has the whole list, and the next look tells the
	// page nothing new until it changes.
	f, _, hello, err = b.subscribe("alice", "t2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := hello["watchers"].([]string); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("hello's watchers %v, want bob", hello["watchers"])
	}
	b.checkWatchers(map[string][]string{})
	if got := watchers(f); len(got) != 0 {
		t.Fatalf("nothing changed since hello: the page heard %v", got)
	}
	elsewhere = map[string][]string{}
	b.checkWatchers(map[string][]string{})
	if got := watchers(f); len(got) != 1 || len(got[0]) != 0 {
		t.Fatalf("bob stopped watching: the page heard %v, want one empty list", got)
	}

	// A second page opens after dave started watching elsewhere: its
	// hello names him, and the first page hears of him at the next look.
	elsewhere = map[string][]string{"alice": {"dave"}}
	_, _, hello, err = b.subscribe("alice", "t3", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := hello["watchers"].([]string); !slices.Equal(got, []string{"dave"}) {
		t.Fatalf("second page's hello: watchers %v, want dave", hello["watchers"])
	}
	b.checkWatchers(map[string][]string{})
	if got := watchers(f); len(got) != 1 || !slices.Equal(got[0], []string{"dave"}) {
		t.Fatalf("the first page heard %v after the second opened, want [[dave]]", got)
	}
}
