package tlsx

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The redirect listener answers 308 to the HTTPS URL with the same host,
// path and query, whatever the method.
func TestRedirect(t *testing.T) {
	log, _ := testLog(t)
	m, err := newManager(Config{Mode: "self-signed", RedirectListen: "127.0.0.1:0"}, t.TempDir(), log, options{localIPs: fixedIPs("127.0.0.1"), now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		httpsAddr, method, host, target string
		want                            string // Location; "" for 400
	}{
		{"[::]:8443", http.MethodGet, "video.example.org", "/whep/live/a?x=1&y=%2F", "https://video.example.org:8443/whep/live/a?x=1&y=%2F"},
		{"0.0.0.0:8443", http.MethodPost, "video.example.org:80", "/whip/live/obs", "https://video.example.org:8443/whip/live/obs"},
		{":443", http.MethodGet, "Video.Example.org:8080", "/", "https://video.example.org/"},
		{":443", http.MethodPatch, "192.168.1.9", "/sessions/abc", "https://192.168.1.9/sessions/abc"},
		{"[::1]:8443", http.MethodDelete, "[fd00::9]:80", "/a%20b", "https://[fd00::9]:8443/a%20b"},
		{":8443", http.MethodGet, "evil.example@other", "/", ""},
	} {
		ts := serveHTTP(t, m.RedirectHandler(tc.httpsAddr))
		req, err := http.NewRequest(tc.method, "http://"+ts+tc.target, strings.NewReader("v=0"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		client := &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       5 * time.Second,
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tc.want == "" {
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %s (Host %s): %d, want 400", tc.method, tc.target, tc.host, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tc.want {
			t.Errorf("%s %s (Host %s): %d Location %q, want 308 %q", tc.method, tc.target, tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
}

// serveHTTP serves h on a loopback port and returns its address.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: quiet(t)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}
