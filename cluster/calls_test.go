package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// callNode starts node id on url with its call hooks recording what they
// hear; present lists the participants it has sessions of.
func callNode(t *testing.T, url, id string, present func() []string) (*Node, *heardCalls) {
	t.Helper()
	cfg := Config{NodeURL: "http://" + id + ":8080", Secret: strings.Repeat("s", 32), NodeID: id, Lease: time.Second, Renew: 100 * time.Millisecond}
	n, err := New(context.Background(), Options{Config: cfg, DatabaseURL: url, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	h := &heardCalls{}
	n.SetCallHooks(CallHooks{
		Changed: h.add, Present: present, Known: func() int { return 1 },
		Repair: func(all []CallRow) {
			for _, c := range all {
				h.add(c, false)
			}
		},
		DropGrace: 300 * time.Millisecond, Unanswered: "timeout", Dropped: "dropped",
	})
	return n, h
}

// heardCalls records the changes a node's hooks heard.
type heardCalls struct {
	mu  sync.Mutex
	got []string // "id state reason own"
}

func (h *heardCalls) add(c CallRow, own bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, fmt.Sprintf("%s %s %s %v", c.ID, c.State, c.EndReason, own))
}

func (h *heardCalls) count(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, g := range h.got {
		if g == s {
			n++
		}
	}
	return n
}

// waitHeard waits until cond holds of the nodes' hooks.
func waitHeard(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Calls shared by two nodes: a person is in one call at a time across
// the nodes; of two nodes changing a call at once one wins; a ringing
// call's deadline and an answered call's drop grace end it once, by one
// node, which the other hears of; an ended call frees its people.
func TestCallsAcrossNodes(t *testing.T) {
	url := pg.Database(t)
	ctx := context.Background()
	var presentMu sync.Mutex
	present := []string{}
	a, ha := callNode(t, url, "a", func() []string {
		presentMu.Lock()
		defer presentMu.Unlock()
		return append([]string(nil), present...)
	})
	b, hb := callNode(t, url, "b", nil)

	c1 := CallRow{ID: "c1", Caller: "alice", Callee: "bob", State: "ringing", Created: time.Now().UTC(), Codecs: map[string][]string{"alice": {"VP8"}}}
	if _, ok, err := a.PlaceCall(ctx, c1, time.Minute); err != nil || !ok {
		t.Fatalf("place c1: %v %v", ok, err)
	}
	waitHeard(t, "node b hears of c1", func() bool { return hb.count("c1 ringing  false") >= 1 })
	// A node that starts now learns of c1 at its first renewal.
	started := time.Now()
	_, hc := callNode(t, url, "c", nil)
	waitHeard(t, "a node started later to learn of c1", func() bool { return hc.count("c1 ringing  false") >= 1 })
	if d := time.Since(started); d > time.Second {
		t.Errorf("a node started after c1 learned of it in %s, want about a renewal (100ms)", d)
	}
	// Carol calls Bob on the other node: busy, with the call he is in.
	busy, ok, err := b.PlaceCall(ctx, CallRow{ID: "c2", Caller: "carol", Callee: "bob", State: "ringing", Created: time.Now()}, time.Minute)
	if err != nil || ok || len(busy) != 1 || busy[0].ID != "c1" {
		t.Fatalf("carol calls bob: %v %v %+v", ok, err, busy)
	}
	if _, found, _ := b.Call(ctx, "c2"); found {
		t.Fatal("a refused call was kept")
	}

	// Both nodes answer at once: one wins.
	var wg sync.WaitGroup
	wins := make(chan CallRow, 2)
	for _, n := range []*Node{a, b} {
		wg.Go(func() {
			next := c1
			next.State, next.Answered, next.Codecs = "active", time.Now().UTC(), map[string][]string{"bob": {"H264"}}
			now, changed, err := n.ChangeCall(ctx, "ringing", next, 300*time.Millisecond)
			if err != nil {
				t.Error(err)
			}
			if changed {
				wins <- now
			}
		})
	}
	wg.Wait()
	close(wins)
	if len(wins) != 1 {
		t.Fatalf("%d nodes answered the call, want 1", len(wins))
	}
	got := <-wins
	if got.Version != 2 || len(got.Codecs["alice"]) != 1 || len(got.Codecs["bob"]) != 1 {
		t.Fatalf("answered call: %+v", got)
	}

	// Alice has a session on node a, Bob nowhere: the call drops once.
	presentMu.Lock()
	present = []string{"c1/alice"}
	presentMu.Unlock()
	ends := func(s string) int { return ha.count(s) + hb.count(s) + hc.count(s) }
	waitHeard(t, "c1 to drop", func() bool {
		return ends("c1 ended dropped true") == 1 && ha.count("c1 ended dropped false")+hb.count("c1 ended dropped false") >= 1
	})
	time.Sleep(300 * time.Millisecond) // a few more sweeps end nothing twice
	if n := ends("c1 ended dropped true"); n != 1 {
		t.Fatalf("c1 ended %d times", n)
	}

	// Bob is free again; a call nobody answers rings out on time, even
	// with the node that placed it gone.
	c3 := CallRow{ID: "c3", Caller: "carol", Callee: "bob", State: "ringing", Created: time.Now().UTC()}
	if _, ok, err := a.PlaceCall(ctx, c3, 400*time.Millisecond); err != nil || !ok {
		t.Fatalf("place c3: %v %v", ok, err)
	}
	placed := time.Now()
	a.Kill()
	waitHeard(t, "c3 to ring out on node b or c", func() bool { return ends("c3 ended timeout true") == 1 })
	if d := time.Since(placed); d < 400*time.Millisecond {
		t.Fatalf("c3 rang out after %s, before its 400ms", d)
	}
	if c, found, err := b.Call(ctx, "c3"); err != nil || !found || c.State != "ended" || c.Version != 2 {
		t.Fatalf("c3 as stored: %+v %v %v", c, found, err)
	}
}
