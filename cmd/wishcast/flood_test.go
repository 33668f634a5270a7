package main

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// flood posts n copies of offer to path (8 at a time) with the headers
// hdr through client, and returns how many got each status; every 429
// must carry Retry-After and name the setting that limits it.
func flood(t *testing.T, client *http.Client, url, offer string, n int, hdr ...string) map[int]int {
	t.Helper()
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
			req.Header.Set("Content-Type", "application/sdp")
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("POST: %v", err)
				return
			}
			var b strings.Builder
			buf := make([]byte, 512)
			k, _ := resp.Body.Read(buf)
			b.Write(buf[:k])
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests && (resp.Header.Get("Retry-After") == "" || !strings.Contains(b.String(), "_PER_PRINCIPAL")) {
				t.Errorf("a 429 without Retry-After or the setting's name: %v %s", resp.Header, b.String())
			}
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}

// fromAddr is a client whose connections come from the loopback address
// ip, another client address than the test's own.
func fromAddr(ip net.IP) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}}
}

// One signed-in user, then one anonymous address, sending more WHEP offers
// than the server lets connect at once, takes only its own share: it gets
// 429s, and everyone else still gets 201 and media.
func TestFloodTakesOnlyOnesShare(t *testing.T) {
	// MAX_PENDING 200: 50 per principal. No flooding session may be
	// reaped while the flood lasts, however slow a busy machine makes it:
	// a reaped one frees its slot for another.
	ts := newTestServer(t, func(c *Config) { c.WebRTC.HandshakeTimeout = 2 * time.Minute })
	startPublisher(t, ts, "live/show", 30)
	mallory, bob := tokenFor(t, ts, "mallory"), tokenFor(t, ts, "bob")
	offer := offerOf(t, webrtc.RTPTransceiverDirectionRecvonly)
	start := time.Now()
	codes := flood(t, http.DefaultClient, ts.URL+"/whep/live/show", offer, 260, "Authorization", "Bearer "+mallory)
	t.Logf("260 offers from one user in %s: %v", time.Since(start).Round(time.Millisecond), codes)
	if codes[http.StatusCreated] != 50 || codes[http.StatusTooManyRequests] != 210 {
		t.Fatalf("one user's flood: %v; want 50 created and 210 refused with 429", codes)
	}
	v := startViewer(t, ts, "live/show", "Authorization", "Bearer "+bob)
	next(t, v.video, 5*time.Second)

	// The same for anonymous viewers of a public stream, per address.
	resp, body := apiAs(t, ts, "", http.MethodPut, "/api/v1/streams/live/show", `{"public":true}`)
	wantStatus(t, "make public", resp, body, http.StatusOK)
	codes = flood(t, fromAddr(net.IPv4(127, 0, 0, 3)), ts.URL+"/whep/live/show", offer, 80, anonymous, "1")
	t.Logf("80 anonymous offers from one address: %v", codes)
	if codes[http.StatusCreated] != 50 || codes[http.StatusTooManyRequests] != 30 {
		t.Fatalf("one address's flood: %v; want 50 created and 30 refused with 429", codes)
	}
	pc, other := newViewerPC(t)
	addRecvonly(t, pc)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/whep/live/show", strings.NewReader(offerFor(t, pc)))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set(anonymous, "1")
	r2, err := fromAddr(net.IPv4(127, 0, 0, 4)).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 64<<10)
	for {
		k, err := r2.Body.Read(buf)
		sb.Write(buf[:k])
		if err != nil {
			break
		}
	}
	answered(t, pc, ts.URL+"/whep/live/show", r2, sb.String())
	next(t, other.video, 5*time.Second)
}

// endCounter counts the publications the hub ends, by stream.
type endCounter struct {
	stream.Observer
	mu    sync.Mutex
	ended map[string]int
}

func (e *endCounter) StreamEnded(name string, peak int) {
	e.mu.Lock()
	e.ended[name]++
	e.mu.Unlock()
	e.Observer.StreamEnded(name, peak)
}

// A WHIP request refused by a cap never touches the hub: no stream is
// published and ended for it.
func TestCappedPublishTouchesNoHub(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.WebRTC.MaxPendingPerPrincipal = 1 })
	ends := &endCounter{Observer: ts.metrics, ended: map[string]int{}}
	ts.hub.SetObserver(ends)
	offer := offerOf(t, webrtc.RTPTransceiverDirectionSendonly)
	if resp, body := post(t, ts, "/whip/live/first", offer, ts.AdminToken); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first publish: %d %s", resp.StatusCode, body)
	}
	for range 5 {
		resp, body := post(t, ts, "/whip/live/second", offer, ts.AdminToken)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("publish past the cap: %d %s", resp.StatusCode, body)
		}
	}
	ends.mu.Lock()
	defer ends.mu.Unlock()
	if n := ends.ended["live/second"]; n != 0 || ts.hub.IsLive("live/second") {
		t.Fatalf("refused publishes touched the hub: live/second published and ended %d times", n)
	}
}
