package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// corsResult is what a CORS test reads from one request through the
// middleware.
type corsResult struct {
	header http.Header
	served bool // the wrapped handler ran
}

// throughCORS sends a request with the given headers through CORS(cfg)
// in front of a handler that answers 204.
func throughCORS(cfg CORSConfig, method string, hdr ...string) corsResult {
	var res corsResult
	h := CORS(cfg)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		res.served = true
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest(method, "/whip/live", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res.header = rec.Header()
	return res
}

// hasToken reports whether a comma-separated header value lists tok.
func hasToken(list, tok string) bool {
	for v := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), tok) {
			return true
		}
	}
	return false
}

var corsCfg = CORSConfig{AllowedOrigins: []string{"https://app.example.com/", " https://Other.Example:8443 "}}

// An allowed origin is reflected, and browser code may read the headers
// WHIP and WHEP clients need (Location for the session, ETag and Link for
// trickle and ICE servers, Retry-After for 409/503).
func TestCORSAllowedOrigin(t *testing.T) {
	for _, origin := range []string{"https://app.example.com", "https://APP.example.com", "https://other.example:8443"} {
		res := throughCORS(corsCfg, http.MethodPost, "Origin", origin)
		h := res.header
		if got := h.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want it reflected", origin, got)
		}
		for _, exp := range []string{"Location", "ETag", "Link", "Accept-Post", "Accept-Patch", "Retry-After"} {
			if !hasToken(h.Get("Access-Control-Expose-Headers"), exp) {
				t.Errorf("%s: %s not exposed (%q)", origin, exp, h.Get("Access-Control-Expose-Headers"))
			}
		}
		if !hasToken(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("%s: Vary %q lacks Origin: caches would serve one origin's answer to another", origin, h.Values("Vary"))
		}
		if !res.served {
			t.Errorf("%s: request not served", origin)
		}
	}
}

// A disallowed origin gets no Access-Control-* header at all, so the
// browser keeps the response from the page; the request itself is still
// served (CORS is enforced by the browser, not the server).
func TestCORSDisallowedOrigin(t *testing.T) {
	for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example", "null", "http://app.example.com"} {
		for _, method := range []string{http.MethodPost, http.MethodOptions} {
			res := throughCORS(corsCfg, method, "Origin", origin, "Access-Control-Request-Method", "POST")
			for k := range res.header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s %s: got %s: %q", method, origin, k, res.header.Get(k))
				}
			}
			if !hasToken(strings.Join(res.header.Values("Vary"), ","), "Origin") {
				t.Errorf("%s %s: Vary lacks Origin", method, origin)
			}
		}
	}
	// Without an Origin (not a cross-site browser request) nothing changes.
	if res := throughCORS(corsCfg, http.MethodPost); len(res.header.Values("Vary")) != 0 || res.header.Get("Access-Control-Allow-Origin") != "" || !res.served {
		t.Errorf("same-origin request got CORS headers %v", res.header)
	}
}

// A preflight from an allowed origin is answered with the methods and
// request headers WHIP and WHEP use, Authorization named explicitly
// (Fetch does not let * cover it), and a max age; the route still answers
// it, to add its Accept-Post or Accept-Patch.
func TestCORSPreflight(t *testing.T) {
	res := throughCORS(corsCfg, http.MethodOptions,
		"Origin", "https://app.example.com",
		"Access-Control-Request-Method", "PATCH",
		"Access-Control-Request-Headers", "authorization, content-type, if-match")
	h := res.header
	if got := h.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	for _, m := range []string{"POST", "PATCH", "DELETE", "OPTIONS"} {
		if !hasToken(h.Get("Access-Control-Allow-Methods"), m) {
			t.Errorf("Access-Control-Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
		}
	}
	for _, hd := range []string{"Authorization", "Content-Type", "If-Match"} {
		if !hasToken(h.Get("Access-Control-Allow-Headers"), hd) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), hd)
		}
	}
	if got := h.Get("Access-Control-Max-Age"); got != "86400" {
		t.Errorf("Access-Control-Max-Age %q, want 86400", got)
	}
	if !res.served {
		t.Error("preflight not passed to the route")
	}

	// An OPTIONS without Access-Control-Request-Method is no preflight,
	// but some WHIP clients read from it whether PATCH (trickle) is
	// supported: an allowed origin learns the methods, nothing more.
	plain := throughCORS(corsCfg, http.MethodOptions, "Origin", "https://app.example.com")
	if !hasToken(plain.header.Get("Access-Control-Allow-Methods"), "PATCH") {
		t.Errorf("a plain OPTIONS from an allowed origin: Access-Control-Allow-Methods %q lacks PATCH", plain.header.Get("Access-Control-Allow-Methods"))
	}
	if plain.header.Get("Access-Control-Allow-Headers") != "" || plain.header.Get("Access-Control-Max-Age") != "" {
		t.Error("a plain OPTIONS was answered as a preflight")
	}
	other := throughCORS(corsCfg, http.MethodOptions, "Origin", "https://evil.example")
	if other.header.Get("Access-Control-Allow-Methods") != "" {
		t.Error("a plain OPTIONS from a disallowed origin learnt the methods")
	}
}

// CrossSite: a page of another site that is not allowed, told by the
// browser (Sec-Fetch-Site) or by its Origin; same-origin pages, allowed
// origins and requests without either header are not.
func TestCrossSite(t *testing.T) {
	o := NewOrigins(corsCfg)
	for _, c := range []struct {
		name string
		hdr  []string
		want bool
	}{
		{"no headers (curl, OBS)", nil, false},
		{"same origin", []string{"Origin", "http://wishcast.test:8080", "Sec-Fetch-Site", "same-origin"}, false},
		{"same host, other case", []string{"Origin", "http://WishCast.test:8080"}, false},
		{"allowed origin", []string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"}, false},
		{"other site by Origin", []string{"Origin", "https://evil.example"}, true},
		{"other port", []string{"Origin", "http://wishcast.test:9999"}, true},
		{"browser says cross-site, no Origin", []string{"Sec-Fetch-Site", "cross-site"}, true},
		{"opaque origin", []string{"Origin", "null"}, true},
		{"browser says same-origin behind a Host-rewriting proxy", []string{"Origin", "https://video.example.org", "Sec-Fetch-Site", "same-origin"}, false},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://wishcast.test:8080/api/v1/logout", nil)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			r.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		if got := o.CrossSite(r); got != c.want {
			t.Errorf("%s: CrossSite = %v, want %v", c.name, got, c.want)
		}
	}
}

// "*" allows every origin with a literal * rather than a reflection.
func TestCORSAnyOrigin(t *testing.T) {
	res := throughCORS(CORSConfig{AllowedOrigins: []string{"*"}}, http.MethodOptions,
		"Origin", "https://anywhere.example", "Access-Control-Request-Method", "POST")
	if got := res.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want *", got)
	}
	if res.header.Get("Access-Control-Allow-Methods") == "" {
		t.Error("preflight from any origin not answered")
	}
	// No origins configured: nobody is allowed.
	none := throughCORS(CORSConfig{}, http.MethodPost, "Origin", "https://anywhere.example")
	if got := none.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("with no allowed origins, Access-Control-Allow-Origin %q", got)
	}
}
