package callbridge

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
)

// A page that resumes on this node after another node's event waits for
// that node's answer (up to fetchTimeout). Many events here meanwhile
// (the pages of a node that died all arriving at once, each announced to
// everyone) must not drop its feed: it gets hello and stays open.
func TestFeedResumingElsewhereSurvivesBusyFetch(t *testing.T) {
	b := bareBridge(Config{PresenceGrace: time.Hour, Heartbeat: time.Hour})
	b.epoch = "here.e1"
	fetching, release := make(chan struct{}), make(chan struct{})
	get := func(ctx context.Context, node, path string) ([]byte, error) {
		if node != "there" || !strings.Contains(path, "after=there.e0-5") {
			return nil, fmt.Errorf("asked node %q for %q", node, path)
		}
		close(fetching)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []byte(`{"events":[{"id":"there.e0-6","event":"test","data":{"n":6}}]}`), nil
	}
	feed := b.EventsVia(get)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(auth.WithPrincipal(r.Context(), &auth.Principal{User: "alice", Kind: auth.PrincipalSession, TokenID: "t1"}))
		_ = feed(w, r)
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	req.Header.Set("Last-Event-ID", "there.e0-5")
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- resp
	}()
	select {
	case <-fetching:
	case <-ctx.Done():
		t.Fatal("the other node was never asked")
	}
	// People arriving here while the fetch runs: more events than a
	// feed's queue holds.
	b.mu.Lock()
	for i := range feedQueue + 10 {
		b.emitLocked("", "presence", map[string]any{"user": fmt.Sprintf("u%d", i), "online": true})
	}
	b.mu.Unlock()
	close(release)
	resp := <-got
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	want := []string{"event: hello", "id: there.e0-6", "event: marker"}
	for len(want) > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the feed ended before %q", want[0])
			}
			if l == want[0] {
				want = want[1:]
			}
			if l == "event: hello" {
				// Hello came: a new event now must reach the same feed.
				go func() {
					time.Sleep(100 * time.Millisecond)
					b.mu.Lock()
					b.emitLocked("alice", "marker", 1)
					b.mu.Unlock()
				}()
			}
			if strings.HasPrefix(l, "data:") && strings.Contains(l, `"resync"`) {
				t.Fatalf("hello asks for a resync though the node answered: %s", l)
			}
		case <-ctx.Done():
			t.Fatalf("no %q within the deadline", want[0])
		}
	}
}
