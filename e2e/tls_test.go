//go:build e2e

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/wishcast/wishcast/tlsx"
)

// A browser on another machine reaches wishcast by a LAN address, where
// only HTTPS is a secure context. With TLS_MODE=self-signed, Chromium that
// pins the logged public key (--ignore-certificate-errors-spki-list, what
// a person does by accepting the certificate) gets the camera on that
// origin and publishes over WHIP to the same origin.
func TestTLSSelfSignedLANOrigin(t *testing.T) {
	h := tlsHarness(t)
	srv := h.srv

	pub := openOriginTab(h, "publisher")
	origin := mustEvaluate[string](pub, `location.origin`)
	if origin != srv.URL {
		h.fatalf("page origin %s, want %s", origin, srv.URL)
	}
	if !mustEvaluate[bool](pub, `window.isSecureContext`) {
		h.fatalf("%s is not a secure context", origin)
	}
	pub.start("publish", srv.URL, "live/tls")
	st := pub.waitAnswered("/whip/live/tls")
	t.Logf("WHIP over %s: %d, Location %s", srv.URL, st.Status, st.Location)
	pub.waitFor("the publisher to connect", mediaTimeout, func() (bool, string, error) {
		ps, err := pub.stats()
		if err != nil {
			return false, "", err
		}
		if ps.ConnectionState == "failed" || ps.ConnectionState == "closed" {
			h.fatalf("publisher: connectionState %s", ps.ConnectionState)
		}
		return ps.ConnectionState == "connected" && ps.Outbound["video"].Packets > 0, ps.String(), nil
	})
	pub.screenshot(t.Name() + "-publisher.png")
}

// tlsHarness starts wishcast with a self-signed certificate on a LAN
// address of this machine and a browser that pins that certificate.
func tlsHarness(t *testing.T) *harness {
	t.Helper()
	srv, spki := startTLSWishcast(t, lanIPv4(t))
	h := &harness{t: t, srv: srv, shots: os.Getenv("WISHCAST_ARTIFACTS")}
	if h.shots == "" {
		h.shots = t.TempDir()
	} else if err := os.MkdirAll(h.shots, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	h.ctx = newPinningBrowser(t, spki)
	return h
}

// The app itself over HTTPS on a LAN address: Bob's page, asked to
// publish because Alice watches him, gets the camera (getUserMedia on a
// non-localhost origin) and publishes it over WHIP; Alice decodes it.
func TestTLSAppWatchUser(t *testing.T) {
	h := tlsHarness(t)
	alice, bob := twoPeopleOn(h)
	for _, tb := range []*tab{alice, bob} {
		if origin := mustEvaluate[string](tb, `location.origin`); origin != h.srv.URL || !mustEvaluate[bool](tb, `window.isSecureContext`) {
			h.fatalf("%s's page: origin %s, secure %v", tb.name, origin, mustEvaluate[bool](tb, `window.isSecureContext`))
		}
	}
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=watch]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=watch]")
	bob.waitAppPublishing("users/bob")
	alice.waitAppDecoding("users/bob", "#player video")
	bob.screenshot(t.Name() + "-bob-publishing.png")
}

// lanIPv4 is an address of this machine that is neither loopback nor
// link-local, as a viewer on another machine would use: there nothing but
// HTTPS makes a secure context, so the certificate path is what is tested.
func lanIPv4(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("network interfaces: %v", err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	skipNoted(t, "this machine has no non-loopback IPv4 address: a LAN origin cannot be tested")
	return ""
}

// startTLSWishcast starts the server with a self-signed certificate on
// ip (ICE on ip too) and returns it with the SPKI hash it logged, checked
// against the certificate file it wrote.
func startTLSWishcast(t *testing.T, ip string) (*wishcast, string) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", ip, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dataDir := t.TempDir()
	s := launchWishcast(t, "https://"+addr,
		"WISHCAST_LISTEN="+addr,
		"WISHCAST_TLS_MODE=self-signed",
		"WISHCAST_ICE_HOST_IPS="+ip,
		"WISHCAST_DEMO_CAMERA=false",
		"WISHCAST_DATA_DIR="+dataDir,
	)

	logged := regexp.MustCompile(`spki_sha256="?([A-Za-z0-9+/=]+)`)
	deadline := time.Now().Add(15 * time.Second)
	var spki string
	var lastErr error
	for {
		select {
		case <-s.exited:
			t.Fatalf("wishcast exited before it was healthy (%v); its output:\n%s", s.err, s.output)
		default:
		}
		if m := logged.FindStringSubmatch(s.output.String()); m != nil && spki == "" {
			spki = m[1]
		}
		if spki != "" {
			var code int
			if code, _, lastErr = pinnedDo(spki, http.MethodGet, s.URL+"/healthz", "", ""); lastErr == nil && code == http.StatusOK {
				break
			} else if lastErr == nil {
				lastErr = fmt.Errorf("GET /healthz: %d", code)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wishcast not healthy at %s after 15s (SPKI logged: %q): %v; its output:\n%s", s.URL, spki, lastErr, s.output)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := spkiOfFile(t, filepath.Join(dataDir, "tls", "self-signed.crt")); want != spki {
		t.Fatalf("logged SPKI %s, but the certificate file's is %s", spki, want)
	}
	code, body, err := pinnedDo(spki, http.MethodPost, s.URL+"/api/v1/login", "application/json",
		fmt.Sprintf(`{"name":"admin","password":%q}`, adminPassword))
	var out struct {
		Token string `json:"token"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.Token == "" {
		t.Fatalf("sign in over HTTPS: %d %v %s", code, err, body)
	}
	s.token = out.Token
	s.client = pinnedClient(spki)
	return s, spki
}

// pinnedClient is an HTTPS client that trusts exactly the certificate
// whose public key hashes to spki.
func pinnedClient(spki string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsx.PinnedTLS(spki)}}
}

// pinnedDo sends one request over HTTPS to a server whose certificate's
// public key hashes to spki, and returns the status and body.
func pinnedDo(spki, method, url, contentType, body string) (int, string, error) {
	client := pinnedClient(spki)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// spkiOfFile is the base64 SHA-256 of the public key of a PEM certificate.
func spkiOfFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return tlsx.SPKIHash(c)
}

// newPinningBrowser is newBrowser's Chromium that also accepts the
// certificate whose public key hashes to spki.
func newPinningBrowser(t *testing.T, spki string) context.Context {
	t.Helper()
	return newBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
}

// openOriginTab opens wishcast's own /healthz in the browser's tab, so that
// the page's origin is wishcast's HTTPS origin, and loads the test page's
// module (wish.js) into it. The app's pages are not what is tested here.
func openOriginTab(h *harness, name string) *tab {
	h.t.Helper()
	tb := &tab{h: h, name: name, ctx: h.ctx}
	h.tabs = append(h.tabs, tb)
	msgs := chromedp.Console(tb.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, fmt.Sprintf("%s %s", m.Type, m.Text))
			tb.mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	// A strict Content-Security-Policy would refuse the injected module.
	if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		h.fatalf("%s: bypass CSP: %v", name, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/healthz")); err != nil {
		h.fatalf("%s: open %s/healthz (certificate refused?): %v", name, h.srv.URL, err)
	}
	if text := mustEvaluate[string](tb, `document.body ? document.body.innerText : ''`); !strings.Contains(text, `"status":"ok"`) {
		h.fatalf("%s: %s/healthz shows %q, not wishcast's health (a certificate interstitial?)", name, h.srv.URL, text)
	}
	src, err := testdata.ReadFile("testdata/wish.js")
	if err != nil {
		h.t.Fatal(err)
	}
	js := fmt.Sprintf(`(async () => {
		document.body.textContent = '';
		const video = document.createElement('video');
		video.id = 'video';
		video.muted = true;
		video.autoplay = true;
		video.playsInline = true;
		const status = document.createElement('pre');
		status.id = 'status';
		document.body.append(video, status);
		const url = URL.createObjectURL(new Blob([%s], {type: 'text/javascript'}));
		window.wish = await import(url);
		window.wish.setToken(%q);
		return true;
	})()`, jsString(string(src)), h.srv.token)
	if !mustEvaluate[bool](tb, js) {
		h.fatalf("%s: wish.js did not load", name)
	}
	return tb
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
