package tlsx

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seen is what a handler behind Proxies observes.
type seen struct {
	RemoteAddr, Scheme, XFF, XFP, Forwarded string
}

func observe(w http.ResponseWriter, r *http.Request) {
	_ = json.NewEncoder(w).Encode(seen{
		RemoteAddr: r.RemoteAddr, Scheme: Scheme(r),
		XFF: r.Header.Get("X-Forwarded-For"), XFP: r.Header.Get("X-Forwarded-Proto"), Forwarded: r.Header.Get("Forwarded"),
	})
}

func TestProxies(t *testing.T) {
	mw, err := Proxies(Config{TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(observe))
	for _, tc := range []struct {
		name, peer, xff, xfp string
		tls                  bool
		wantAddr, wantScheme string
		stripped             bool
	}{
		{"untrusted peer", "203.0.113.9:4000", "1.2.3.4", "https", false, "203.0.113.9:4000", "http", true},
		{"untrusted peer over TLS", "203.0.113.9:4000", "1.2.3.4", "http", true, "203.0.113.9:4000", "https", true},
		{"trusted peer", "10.1.2.3:5000", "198.51.100.7", "https", false, "198.51.100.7:0", "https", false},
		{"right-most untrusted hop", "10.1.2.3:5000", "6.6.6.6, 198.51.100.7, 10.9.9.9", "https", false, "198.51.100.7:0", "https", false},
		{"all hops trusted", "192.0.2.1:5000", "10.0.0.1, 10.0.0.2", "http", true, "10.0.0.1:0", "http", false},
		{"garbage hop stops the walk", "10.1.2.3:5000", "198.51.100.7, bogus, 10.0.0.5", "", false, "10.0.0.5:0", "http", false},
		{"trusted peer, no headers", "10.1.2.3:5000", "", "", true, "10.1.2.3:5000", "https", false},
		{"odd proto ignored", "10.1.2.3:5000", "198.51.100.7", "gopher", true, "198.51.100.7:0", "https", false},
		{"IPv6 peer and hop", "[2001:db8::1]:443", "2001:db8:1::5, [2a00::7]:1234", "HTTPS", false, "[2a00::7]:0", "https", false},
		{"mapped IPv4 peer", "[::ffff:10.0.0.3]:80", "198.51.100.8", "https", false, "198.51.100.8:0", "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.xfp != "" {
				r.Header.Set("X-Forwarded-Proto", tc.xfp)
			}
			r.Header.Set("Forwarded", "for=6.6.6.6")
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var got seen
			if err := json.NewDecoder(w.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.RemoteAddr != tc.wantAddr || got.Scheme != tc.wantScheme {
				t.Errorf("RemoteAddr %s scheme %s, want %s %s", got.RemoteAddr, got.Scheme, tc.wantAddr, tc.wantScheme)
			}
			if stripped := got.XFF == "" && got.XFP == "" && got.Forwarded == ""; tc.stripped != stripped {
				t.Errorf("headers seen %+v, stripped=%v want %v", got, stripped, tc.stripped)
			}
			if r.Header.Get("Forwarded") == "" {
				t.Error("the caller's request headers were modified")
			}
		})
	}
}

// Over real sockets: the loopback peer is trusted only when listed.
func TestProxiesOverLoopback(t *testing.T) {
	for _, tc := range []struct {
		trusted  []string
		wantAddr string
	}{
		{[]string{"127.0.0.1"}, "198.51.100.7:0"},
		{[]string{"10.0.0.0/8"}, "127.0.0.1:"},
		{nil, "127.0.0.1:"},
	} {
		mw, err := Proxies(Config{TrustedProxies: tc.trusted})
		if err != nil {
			t.Fatal(err)
		}
		addr := serveHTTP(t, mw(http.HandlerFunc(observe)))
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got seen
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		trusted := tc.wantAddr == "198.51.100.7:0"
		if !strings.HasPrefix(got.RemoteAddr, tc.wantAddr) || (got.Scheme == "https") != trusted || (got.XFF == "") == trusted {
			t.Errorf("trusted %v: saw %+v, want address %s...", tc.trusted, got, tc.wantAddr)
		}
	}
}

// Without the middleware Scheme falls back to the connection.
func TestSchemeWithoutMiddleware(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if Scheme(r) != "http" {
		t.Fatal(Scheme(r))
	}
	r.TLS = &tls.ConnectionState{}
	if Scheme(r) != "https" {
		t.Fatal(Scheme(r))
	}
}
