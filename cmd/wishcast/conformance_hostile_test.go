package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// F. Hostile inputs

// H1: a 10 MiB body, or an endless chunked one, → 413.
func TestH01_OversizedBody413(t *testing.T) {
	ts := newTestServer(t)
	before := ts.sessions.Stats()
	big := append([]byte("v=0\r\n"), bytes.Repeat([]byte("a=x-padding:0123456789abcdef\r\n"), (10<<20)/30)...)
	resp, body := cfDo(t, http.MethodPost, ts.URL+"/whip/live/h1", big, "Content-Type", "application/sdp")
	cfProblem(t, resp, body, http.StatusRequestEntityTooLarge)

	req, err := http.NewRequest(http.MethodPost, ts.URL+"/whip/live/h1", io.MultiReader(strings.NewReader("v=0\r\n"), cfEndless{}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	start := time.Now()
	r2, err := cfClient.Do(req)
	if err != nil {
		t.Fatalf("endless chunked POST: %v", err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	cfProblem(t, r2, string(b2), http.StatusRequestEntityTooLarge)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("endless body answered after %s", d)
	}
	cfNoNewSession(t, ts, before)
}

// cfEndless is a reader that never ends.
type cfEndless struct{}

func (cfEndless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// H1: a POST announcing a 10 MiB body that then trickles in slowly gets
// its 413 at once, from the Content-Length, instead of the server waiting
// for 64 KiB to arrive (or for the read timeout).
func TestH01_DeclaredOversizeRejectedWithoutWaiting(t *testing.T) {
	ts := newTestServer(t)
	u, _ := url.Parse(ts.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /whip/live/h1slow HTTP/1.1\r\nHost: %s\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\nv=0\r\n", u.Host, 10<<20)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // 100 bytes every 50 ms: 64 KiB would take half a minute
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if _, err := conn.Write(bytes.Repeat([]byte("a"), 100)); err != nil {
				return
			}
		}
	})
	defer func() { close(done); wg.Wait() }()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response %s after a POST declaring Content-Length: 10 MiB (the server waits for the body instead of refusing it): %v", time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("413 took %s", d)
	}
}

// H3: offers with 500 m-lines, 10k lines, 1000 rtpmaps or a 100 KB line
// are refused with a 4xx well under a second, before pion sees them.
func TestH03_HugeOffersRefusedFast(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	head := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	var mlines strings.Builder
	mlines.WriteString(head)
	for i := range 500 {
		fmt.Fprintf(&mlines, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", 96+i%32)
	}
	var rtpmaps strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&rtpmaps, "a=rtpmap:%d VP8/90000\r\n", 96+i%32)
	}
	cases := map[string]string{
		"500 m-lines":    mlines.String(),
		"10k lines":      offer + strings.Repeat("a=x\r\n", 10000),
		"1000 rtpmap":    offer + rtpmaps.String(),
		"100 KB line":    offer + "a=x-long:" + strings.Repeat("x", 100<<10) + "\r\n",
		"5 KB line":      offer + "a=x-long:" + strings.Repeat("x", 5<<10) + "\r\n",
		"1000 m-lines/2": head + strings.Repeat("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:x\r\n", 600),
	}
	before := ts.sessions.Stats()
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resp, rb := cfPost(t, ts.URL+"/whip/live/h3", body)
			d := time.Since(start)
			if resp.StatusCode/100 != 4 {
				t.Fatalf("status %d, want 4xx: %.200s", resp.StatusCode, rb)
			}
			cfProblem(t, resp, rb, resp.StatusCode)
			if d > 500*time.Millisecond {
				t.Errorf("refused after %s", d)
			}
		})
	}
	cfNoNewSession(t, ts, before)
}

// H4: a 1 MiB PATCH → 413; 200 rapid PATCHes on one session → some 429
// with Retry-After, the others 204.
func TestH04_PatchLimits(t *testing.T) {
	ts := newTestServer(t)
	_, offer := cfOffer(t, nil, cfSendonly)
	s, _ := cfCreate(t, ts, ts.URL+"/whip/live/h4", offer)
	huge := cfFrag(offer, nil, false) + strings.Repeat("a=x-padding:0123456789abcdef0123456789abcdef\r\n", (1<<20)/46)
	resp, body := cfPatch(t, s, huge, cfFragType, s.etag)
	cfProblem(t, resp, body, http.StatusRequestEntityTooLarge)

	frag := cfFrag(offer, nil, true)
	limited := 0
	for i := range 200 {
		resp, body := cfPatch(t, s, frag, cfFragType, s.etag)
		switch resp.StatusCode {
		case http.StatusNoContent:
		case http.StatusTooManyRequests:
			limited++
			if limited == 1 {
				cfProblem(t, resp, body, http.StatusTooManyRequests)
			}
			cfRetryAfter(t, resp)
		default:
			t.Fatalf("PATCH %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if limited == 0 {
		t.Errorf("200 rapid PATCHes on one session: none refused with 429")
	}
}

// H17: a disallowed origin gets no CORS headers at all, never a reflection.
func TestH17_CORSDisallowedOrigin(t *testing.T) {
	ts := newTestServer(t, cfWithCORS)
	const evil = "https://evil.example"
	check := func(resp *http.Response) {
		t.Helper()
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
			"Access-Control-Expose-Headers", "Access-Control-Allow-Credentials"} {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("%s %s from %s: %s: %q", resp.Request.Method, resp.Request.URL.Path, evil, h, v)
			}
		}
	}
	for _, u := range []string{ts.URL + "/whip/live/h17", ts.URL + "/whep/live/h17"} {
		resp, _ := cfPreflight(t, u, evil, "POST", "authorization, content-type")
		check(resp)
		resp, _ = cfDo(t, http.MethodOptions, u, nil, "Origin", evil)
		check(resp)
	}
	_, offer := cfOffer(t, nil, cfSendonly)
	resp, body := cfPost(t, ts.URL+"/whip/live/h17", offer, "Origin", evil)
	cfStatus(t, resp, body, http.StatusCreated)
	check(resp)
	resp, _ = cfDo(t, http.MethodPost, ts.URL+"/whip/live/h17b", []byte(offer), "Content-Type", "text/plain", "Origin", evil)
	check(resp)
	for _, o := range []string{"null", "https://app.example.evil.example", "http://app.example", "https://app.example:8443"} {
		resp, _ := cfPreflight(t, ts.URL+"/whip/live/h17", o, "POST", "content-type")
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("origin %q allowed: %q", o, v)
		}
	}
}

// H18: stream names outside the rule (1–4 segments of 1–64 [A-Za-z0-9._-],
// none starting with a dot) → 400 on /whip and /whep, with no HTML echoed.
func TestH18_BadStreamNames400(t *testing.T) {
	ts := newTestServer(t)
	_, pubOffer := cfOffer(t, nil, cfSendonly)
	_, viewOffer := cfOffer(t, nil, cfRecvonly)
	names := []string{
		"../../etc/passwd",
		"%2e%2e%2f",
		"%2e%2e/%2e%2e/etc/passwd",
		"live/%2e%2e",
		".hidden",
		"live/.hidden",
		"a/b/c/d/e",
		strings.Repeat("a", 65),
		"live/" + strings.Repeat("b", 65),
		"%00",
		"live/a%00b",
		"live/%3Cb%3Ehi%3C",
		"live/caf%C3%A9",
		"live/" + strings.Repeat("n", 10000),
		"live/x/",
		"live//x",
		"",
		"live/a%20b",
	}
	before := ts.sessions.Stats()
	for _, n := range names {
		for _, ep := range []struct{ path, offer string }{{"/whip/", pubOffer}, {"/whep/", viewOffer}} {
			resp, body := cfPost(t, ts.URL+ep.path+n, ep.offer)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("POST %s%.80s: %d, want 400: %.200s", ep.path, n, resp.StatusCode, body)
				continue
			}
			cfProblem(t, resp, body, http.StatusBadRequest)
		}
	}
	cfNoNewSession(t, ts, before)
}

// H16: /metrics and /debug/pprof are not on the public listener (metrics
// have their own, loopback by default); asking there is a plain 404.
func TestH16_NoMetricsOrPprofOnPublicListener(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine"} {
		resp, body := do(t, http.MethodGet, ts.URL+path, "", anonymous, "1")
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "wishcast_") || strings.Contains(body, "goroutine") {
			t.Errorf("GET %s on the public listener: %d %.80s", path, resp.StatusCode, body)
		}
	}
	// Loopback only, and not on 9090, where Prometheus itself listens by
	// default: an operator who runs it on the same host gets no clash.
	if ts.cfg.Metrics.Listen != "127.0.0.1:8190" {
		t.Errorf("metrics listen by default on %q, want loopback only, port 8190", ts.cfg.Metrics.Listen)
	}
}
