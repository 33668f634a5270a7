package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wishcast/wishcast/session"
)

// Viewers ended by the server while others are still being set up (a
// revocation tick, a camera replaced, a hang-up while the peer posts)
// must not take the server down: every POST gets a clear answer, and the
// stream still plays afterwards.
func TestEndSessionsDuringSetup(t *testing.T) {
	ts := newTestServer(t)
	startPublisher(t, ts, "live/race", 30)
	pc, _ := newViewerPC(t)
	addRecvonly(t, pc)
	offer := offerFor(t, pc)
	_ = pc.Close()

	stop := make(chan struct{})
	var ended atomic.Int64
	var closer sync.WaitGroup
	closer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			ended.Add(int64(ts.sessions.CloseWhere(func(p, st, _ string) bool { return p == "whep" && st == "live/race" }, session.ReasonRevoked)))
			time.Sleep(time.Millisecond)
		}
	})
	codes := map[int]int{}
	var mu sync.Mutex
	var posters sync.WaitGroup
	for range 4 {
		posters.Go(func() {
			for range 25 {
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/whep/live/race", strings.NewReader(offer))
				req.Header.Set("Content-Type", "application/sdp")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("POST: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	posters.Wait()
	close(stop)
	closer.Wait()
	for code, n := range codes {
		if code != http.StatusCreated && code != http.StatusConflict {
			t.Errorf("%d POSTs answered %d; want 201, or 409 for a session ended while being set up", n, code)
		}
	}
	t.Logf("answers %v; %d sessions ended by the server", codes, ended.Load())

	v := startViewer(t, ts, "live/race")
	next(t, v.video, 5*time.Second)
}
