package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// pages stands for the pages open on a node: it counts the asks to
// publish, by stream, once each is done (a page takes a moment).
type pages struct {
	mu      sync.Mutex
	started map[string]int
	stopped map[string]int
}

func (p *pages) Start(_ context.Context, name string) error {
	time.Sleep(50 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started[name]++
	return nil
}

func (p *pages) Stop(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped[name]++
}

// count returns the asks for name made so far and those running now.
func (p *pages) count(name string) (made, running int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started[name], p.started[name] - p.stopped[name]
}

// Other nodes' asks to have a person's page publish are carried out in
// the order they came, and those of a node that died are withdrawn when
// its lease is gone; a live node's ask stays.
func TestPersonAsksOfOtherNodes(t *testing.T) {
	url := pg.Database(t)
	cfg := Config{NodeURL: "http://a:8080", Secret: strings.Repeat("s", 32), NodeID: "a", Lease: time.Second, Renew: 100 * time.Millisecond}
	n, err := New(context.Background(), Options{Config: cfg, DatabaseURL: url, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	openNode(t, url, "b") // a live node
	pg := &pages{started: map[string]int{}, stopped: map[string]int{}}
	n.WrapPerson(pg, time.Second)

	wait := func(what, name string, want int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			made, running := pg.count(name)
			if made == 1 && running == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d asks made for %s, %d running, want 1 made, %d running", what, made, name, running, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// An ask withdrawn at once ends withdrawn.
	n.handle(message{From: "b", Kind: msgWatch, Stream: "users/carol"})
	n.handle(message{From: "b", Kind: msgUnwatch, Stream: "users/carol"})
	time.Sleep(200 * time.Millisecond)
	wait("an ask and its withdrawal", "users/carol", 0)

	n.handle(message{From: "b", Kind: msgWatch, Stream: "users/alice"})
	n.handle(message{From: "ghost", Kind: msgWatch, Stream: "users/bob"})
	wait("asks of a live node", "users/alice", 1)
	wait("asks of a dead node, withdrawn", "users/bob", 0)
	// A few repairs later the live node's ask still runs.
	time.Sleep(time.Second)
	wait("ask of a live node after repairs", "users/alice", 1)
}
