package httpx

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CORSConfig lists the origins that may call wishcast from a browser page
// served elsewhere. The app itself is same-origin and needs none.
type CORSConfig struct {
	// AllowedOrigins are exact origins ("https://app.example.com") or "*".
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:"," desc:"origins (scheme://host[:port]) allowed to call WHIP/WHEP and the API from other sites; * allows any"`
}

// corsExposed are the response headers browser code must be able to read
// (conformance C16).
const corsExposed = "Location, ETag, Link, Accept-Post, Accept-Patch, Retry-After, Wishcast-Media"

// corsMethods and corsHeaders answer preflights (C13). Authorization is
// listed by name: Fetch does not let * cover it.
const (
	corsMethods = "OPTIONS, GET, HEAD, POST, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, If-Match"
)

// Origins is the compiled list of allowed origins.
type Origins struct {
	any     bool
	allowed map[string]bool
}

// NewOrigins compiles cfg's allowed origins.
func NewOrigins(cfg CORSConfig) *Origins {
	o := &Origins{allowed: make(map[string]bool, len(cfg.AllowedOrigins))}
	for _, v := range cfg.AllowedOrigins {
		v = strings.TrimRight(strings.TrimSpace(v), "/")
		if v == "*" {
			o.any = true
		} else if v != "" {
			o.allowed[strings.ToLower(v)] = true
		}
	}
	return o
}

// Allows reports whether pages of origin may call the server.
func (o *Origins) Allows(origin string) bool {
	return origin != "" && (o.any || o.allowed[strings.ToLower(origin)])
}

// CrossSite reports whether r was sent by a page of another site that is
// not an allowed origin: the browser says so (Sec-Fetch-Site: cross-site),
// or, unless it says same-origin, its Origin names another host than the
// one r was sent to. Requests
// without either header (not from a browser, or from an old one) are not
// cross-site.
func (o *Origins) CrossSite(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if o.Allows(origin) {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site":
		return true
	case "same-origin":
		// The browser knows; behind a proxy that rewrites Host, the Host
		// comparison below would wrongly refuse the app's own page.
		return false
	}
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}

// CORS returns middleware that adds CORS headers for allowed origins and
// answers preflight requests itself, without authentication. A disallowed
// origin gets no Access-Control-* headers at all, never a reflection.
func CORS(cfg CORSConfig) func(http.Handler) http.Handler {
	return NewOrigins(cfg).CORS
}

// CORS is middleware that adds CORS headers for o's origins (see the
// package-level CORS). An OPTIONS request from an allowed origin learns
// the methods whether or not it is a preflight: some WHIP clients decide
// from a plain OPTIONS whether trickle (PATCH) is supported.
func (o *Origins) CORS(next http.Handler) http.Handler {
	maxAge := strconv.Itoa(int((24 * time.Hour).Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		ok := o.Allows(origin)
		h := w.Header()
		if origin != "" {
			h.Add("Vary", "Origin")
		}
		if ok {
			if o.any {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", corsExposed)
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", corsMethods)
			}
		}
		if IsPreflight(r) && ok {
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
			// Let the route answer (it adds Accept-Post/Accept-Patch);
			// routes treat preflights as unauthenticated.
		}
		next.ServeHTTP(w, r)
	})
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}
