package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wishcast/wishcast/tlsx"
)

func TestNetworkAdvice(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	udp := func(s string) net.Addr { a, _ := net.ResolveUDPAddr("udp", s); return a }
	private := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("fd00::20")}
	public := []netip.Addr{netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("203.0.113.20")}
	base := func() adviceInput {
		return adviceInput{
			UDP: []net.Addr{udp("0.0.0.0:8189"), udp("[::]:8189")}, TCP: []net.Addr{tcp("[::]:8189")},
			Listen: tcp("[::]:8443"), LocalIPs: private, TLSMode: "self-signed",
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*adviceInput)
		ports  string   // the first line's attributes
		warns  []string // one fragment per expected warning, in order
	}{
		{"LAN only", func(*adviceInput) {}, "[https_tcp 8443 ice_udp 8189 ice_tcp 8189]", []string{"only private or loopback"}},
		{"NAT 1:1", func(in *adviceInput) { in.NAT1To1 = []string{"203.0.113.5"} }, "", nil},
		{"NAT 1:1 to a private address is taken as deliberate", func(in *adviceInput) { in.NAT1To1 = []string{"10.0.0.5"} }, "", nil},
		{"TURN", func(in *adviceInput) { in.TURN = []string{"turn:turn.example.org:3478"} }, "", nil},
		{"public interface", func(in *adviceInput) { in.LocalIPs = public }, "", nil},
		{"host IPs private", func(in *adviceInput) { in.LocalIPs = public; in.HostIPs = []string{"100.64.1.2"} }, "", []string{"100.64.1.2"}},
		{"ICE TCP off", func(in *adviceInput) { in.TCP = nil; in.LocalIPs = public }, "[https_tcp 8443 ice_udp 8189 ice_tcp off]", nil},
		{"plain HTTP on one LAN address", func(in *adviceInput) {
			in.TLSMode, in.Listen, in.LocalIPs = "none", tcp("192.168.1.20:8080"), public
		}, "[http_tcp 8080 ice_udp 8189 ice_tcp 8189]", []string{"plain HTTP"}},
		{"plain HTTP on loopback", func(in *adviceInput) { in.TLSMode, in.Listen, in.LocalIPs = "none", tcp("127.0.0.1:8080"), public }, "", nil},
		{"plain HTTP behind a proxy", func(in *adviceInput) {
			in.TLSMode, in.Listen, in.LocalIPs, in.Proxied = "none", tcp("10.0.0.2:8080"), public, true
		}, "", nil},
		{"ACME on 8443 without :80", func(in *adviceInput) { in.TLSMode, in.LocalIPs = "acme", public }, "", []string{"port 443 (TLS-ALPN-01) or port 80"}},
		{"ACME with :80 redirect", func(in *adviceInput) { in.TLSMode, in.LocalIPs, in.Redirect = "acme", public, tcp("[::]:80") }, "", nil},
		{"ACME on 443", func(in *adviceInput) { in.TLSMode, in.LocalIPs, in.Listen = "acme", public, tcp("[::]:443") }, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mutate(&in)
			got := networkAdvice(in)
			if len(got) == 0 || got[0].Warn || !strings.Contains(got[0].Msg, "ports open") {
				t.Fatalf("first line %+v, want the ports", got)
			}
			if tc.ports != "" {
				if s := fmt.Sprint(got[0].Attrs); s != tc.ports {
					t.Errorf("ports %s, want %s", s, tc.ports)
				}
			}
			var warns []advice
			for _, a := range got[1:] {
				if a.Warn {
					warns = append(warns, a)
				}
			}
			if len(warns) != len(tc.warns) {
				t.Fatalf("warnings %+v, want %d: %q", warns, len(tc.warns), tc.warns)
			}
			for i, w := range tc.warns {
				if !strings.Contains(warns[i].Msg+" "+fmt.Sprint(warns[i].Attrs), w) {
					t.Errorf("warning %q (%v), want one about %q", warns[i].Msg, warns[i].Attrs, w)
				}
			}
		})
	}
}

// /healthz and 'wishcast version' tell the Go version the binary was
// built with (and the VCS revision when the build stamped one).
func TestHealthzAndVersionBuildInfo(t *testing.T) {
	s := &server{}
	rec := httptest.NewRecorder()
	s.healthz(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["status"] != "ok" || got["version"] != version || got["go"] != runtime.Version() {
		t.Fatalf("healthz %s", rec.Body)
	}
	b := readBuildInfo()
	if rev, ok := got["revision"]; ok != (b.Revision != "") || (ok && rev != b.Revision) {
		t.Errorf("healthz revision %v, build info %q", rev, b.Revision)
	}
	var out bytes.Buffer
	if code := run([]string{"version"}, nil, nil, &out, &out); code != 0 {
		t.Fatalf("version exit %d", code)
	}
	want := "wishcast " + version + " (" + runtime.Version()
	if !strings.HasPrefix(out.String(), want) || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("version printed %q, want a line starting %q", out.String(), want)
	}
	if b.Revision != "" && !strings.Contains(out.String(), b.Revision) {
		t.Errorf("version %q lacks revision %s", out.String(), b.Revision)
	}
}

func TestBuildInfoString(t *testing.T) {
	b := buildInfo{Version: "1.2.0", Go: "go1.26.8", Revision: "abc123", Time: "2026-11-27T09:00:00Z", Modified: true}
	if got, want := b.String(), "wishcast 1.2.0 (go1.26.8, revision abc123, 2026-11-27T09:00:00Z, modified)"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := (buildInfo{Version: "dev", Go: "go1.26.8"}).String(); got != "wishcast dev (go1.26.8)" {
		t.Fatal(got)
	}
}

// serve wires TLS: the main listener answers HTTPS with the self-signed
// certificate whose key hash it logged, the redirect listener answers 308
// to it, and forwarded headers from an untrusted peer are dropped.
func TestServeHealthzOverHTTPSWithRedirect(t *testing.T) {
	cfg, err := loadConfig(testEnv(t, map[string]string{
		"WISHCAST_LISTEN":               "127.0.0.1:0",
		"WISHCAST_TLS_MODE":             "self-signed",
		"WISHCAST_HTTP_REDIRECT_LISTEN": "127.0.0.1:0",
		"WISHCAST_METRICS_LISTEN":       "127.0.0.1:0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	s, err := newServer(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	attr := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(logs.String())
		if m == nil {
			return ""
		}
		return m[1]
	}
	var httpsAddr, redirectAddr, spki, metricsURL string
	deadline := time.Now().Add(10 * time.Second)
	for httpsAddr == "" || redirectAddr == "" || spki == "" || metricsURL == "" {
		if time.Now().After(deadline) {
			t.Fatalf("start-up lines not logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
		httpsAddr = attr(`msg="wishcast listening".* listen=(\S+)`)
		redirectAddr = attr(`msg="plain HTTP redirects to HTTPS" listen=(\S+)`)
		spki = attr(`spki_sha256="?([A-Za-z0-9+/=]+)`)
		metricsURL = attr(`msg="Prometheus metrics at" url=(http://127\.0\.0\.1:\d+/metrics)`)
	}
	if !strings.Contains(logs.String(), "url=https://localhost:") {
		t.Errorf("no https URL logged:\n%s", logs)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsx.PinnedTLS(spki)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()

	resp, err := client.Get("https://" + httpsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET https /healthz: %d (TLS %v)", resp.StatusCode, resp.TLS != nil)
	}
	// The address logged at start serves /metrics.
	resp, err = client.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(metrics.String(), "wishcast_") {
		t.Fatalf("GET %s (logged at start): %d %.200s", metricsURL, resp.StatusCode, metrics.String())
	}
	resp, err = client.Post("http://"+redirectAddr+"/whip/live/a?x=1", "application/sdp", strings.NewReader("v=0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(httpsAddr)
	if want := "https://127.0.0.1:" + port + "/whip/live/a?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("POST to the redirect listener: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// A metrics port already taken (Prometheus on the same host, say) stops
// the start with a sentence that names the setting and the way out.
func TestMetricsPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg, err := loadConfig(testEnv(t, map[string]string{
		"WISHCAST_LISTEN":         "127.0.0.1:0",
		"WISHCAST_METRICS_LISTEN": busy.Addr().String(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = s.serve(t.Context())
	if err == nil || !strings.Contains(err.Error(), "WISHCAST_METRICS_LISTEN") || !strings.Contains(err.Error(), "empty to turn metrics off") {
		t.Fatalf("serve with the metrics port taken: %v", err)
	}
}

// lockedBuffer is a log sink safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
