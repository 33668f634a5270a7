package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// linkURL returns the URL of the Link header of rel, resolved against
// base ("" if none).
func linkURL(h http.Header, base, rel string) string {
	for _, v := range h.Values("Link") {
		for l := range strings.SplitSeq(v, ",") {
			if strings.Contains(l, `rel="`+rel+`"`) {
				u := strings.TrimSpace(l[strings.Index(l, "<")+1 : strings.Index(l, ">")])
				return base + u
			}
		}
	}
	return ""
}

// sseReader reads server-sent events from a response body.
type sseReader struct {
	events chan [2]string // event, data
	cancel context.CancelFunc
}

func openSSE(t *testing.T, url string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := &sseReader{events: make(chan [2]string, 64), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		defer close(r.events)
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				r.events <- [2]string{ev, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	return r
}

// next returns the data of the next event named ev, skipping others.
func (r *sseReader) next(t *testing.T, ev string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-r.events:
			if !ok {
				t.Fatalf("event stream ended while waiting for %s", ev)
			}
			if e[0] == ev {
				return e[1]
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", ev, within)
		}
	}
}

// layerOfNext waits for the next video packets and returns the layer of
// the first that is from layer want, failing after d; it checks that the
// sequence numbers go on by one all along.
func waitLayer(t *testing.T, v *viewer, want int, d time.Duration) {
	t.Helper()
	var prev *rtp.Packet
	deadline := time.After(d)
	seen := map[int]int{}
	for {
		select {
		case p := <-v.video:
			if prev != nil && p.SequenceNumber != prev.SequenceNumber+1 {
				t.Fatalf("sequence number jumped from %d to %d", prev.SequenceNumber, p.SequenceNumber)
			}
			prev = p
			seen[simLayerOf(p)]++
			if simLayerOf(p) == want {
				return
			}
		case <-deadline:
			t.Fatalf("no packet of layer %d within %s; packets by layer: %v", want, d, seen)
		}
	}
}

// A simulcast publisher (the rid header extension, as browsers send it,
// and OBS's offer, which declares no SSRC) is accepted with every layer;
// a viewer starts on the best layer, pins another through the WHEP layer
// extension and goes back to automatic, with continuous sequence numbers;
// its event stream says active, lists the layers and the viewer count,
// and says inactive when the publisher leaves, which also sends the
// viewer an RTCP BYE.
func TestSimulcast(t *testing.T) {
	for _, c := range []struct {
		name   string
		obs    bool
		layers []simLayer
		best   int
	}{
		{"browser", false, []simLayer{{"q", 320, 180, 300}, {"h", 640, 360, 700}, {"f", 1280, 720, 1100}}, 2},
		{"obs", true, []simLayer{{"0", 1280, 720, 1100}, {"1", 853, 480, 700}, {"2", 426, 240, 300}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t)
			pub := startSimulcastPublisher(t, ts, "live/sim", c.layers, c.obs)
			var rids []string
			for _, l := range c.layers {
				rids = append(rids, l.rid)
			}
			if !strings.Contains(pub.answer, "a=simulcast:recv "+strings.Join(rids, ";")) {
				t.Fatalf("the answer does not receive every layer:\n%s", pub.answer)
			}
			eventually(t, 5*time.Second, "three layers live", func() bool {
				live := ts.hub.Live("live/")
				return len(live) == 1 && len(live[0].Tracks) == 4
			})

			pc, v := newViewerPC(t)
			addRecvonly(t, pc)
			resp, body := do(t, http.MethodPost, ts.URL+"/whep/live/sim", offerFor(t, pc), "Content-Type", "application/sdp")
			v.peer = answered(t, pc, ts.URL+"/whep/live/sim", resp, body)
			layerURL, sseURL := linkURL(resp.Header, ts.URL, "urn:ietf:params:whep:ext:core:layer"), linkURL(resp.Header, ts.URL, "urn:ietf:params:whep:ext:core:server-sent-events")
			if layerURL == "" || sseURL == "" {
				t.Fatalf("no layer or event extension in %v", resp.Header.Values("Link"))
			}
			waitLayer(t, v, c.best, 5*time.Second)

			resp, body = do(t, http.MethodPost, sseURL, `["active","inactive","layers","viewercount"]`, "Content-Type", "application/json")
			wantStatus(t, "create event stream", resp, body, http.StatusCreated)
			events := openSSE(t, ts.URL+resp.Header.Get("Location"))
			events.next(t, "active", 3*time.Second)
			var layers map[string]struct {
				Layers []struct {
					RID, EncodingID string
					Width, Height   int
					Bitrate         int64
				}
			}
			if err := json.Unmarshal([]byte(events.next(t, "layers", 3*time.Second)), &layers); err != nil {
				t.Fatal(err)
			}
			got := layers["1"].Layers
			if len(got) != 3 || got[0].RID != c.layers[c.best].rid || got[0].EncodingID != got[0].RID || got[0].Width != c.layers[c.best].width {
				t.Fatalf("layers event %+v", layers)
			}
			if vc := events.next(t, "viewercount", 3*time.Second); vc != `{"viewercount":1}` {
				t.Fatalf("viewercount %s", vc)
			}
			// Players that open an EventSource on the advertised URL itself
			// (Broadcast Box's) get every event too.
			direct := openSSE(t, sseURL)
			direct.next(t, "active", 3*time.Second)
			direct.next(t, "layers", 3*time.Second)

			// Pin the smallest layer, then go back to automatic.
			low := 0
			if c.best == 0 {
				low = 2
			}
			for _, bad := range []string{`{"mediaId":"1","rid":"nope"}`, `{"mediaId":"0","rid":"` + c.layers[low].rid + `"}`, `not json`} {
				if resp, body := do(t, http.MethodPost, layerURL, bad, "Content-Type", "application/json"); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("layer %s: %d %s, want 400", bad, resp.StatusCode, body)
				}
			}
			resp, body = do(t, http.MethodPost, layerURL, `{"mediaId":"1","encodingId":"`+c.layers[low].rid+`"}`, "Content-Type", "application/json")
			wantStatus(t, "pin a layer", resp, body, http.StatusOK)
			waitLayer(t, v, low, 5*time.Second)
			resp, body = do(t, http.MethodDelete, layerURL, "")
			wantStatus(t, "back to automatic", resp, body, http.StatusOK)
			waitLayer(t, v, c.best, 5*time.Second)

			// The publisher leaves: inactive.
			resp, body = do(t, http.MethodDelete, ts.URL+pub.location, "")
			wantStatus(t, "publisher DELETE", resp, body, http.StatusOK)
			events.next(t, "inactive", 3*time.Second)
		})
	}
}
