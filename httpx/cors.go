package httpx

import (
	"net/http"
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
const corsExposed = "Location, ETag, Link, Accept-Post, Accept-Patch, Retry-After"

// corsMethods and corsHeaders answer preflights (C13). Authorization is
// listed by name: Fetch does not let * cover it.
const (
	corsMethods = "OPTIONS, GET, HEAD, POST, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, If-Match"
)

// CORS returns middleware that adds CORS headers for allowed origins and
// answers preflight requests itself, without authentication. A disallowed
// origin gets no Access-Control-* headers at all, never a reflection.
func CORS(cfg CORSConfig) func(http.Handler) http.Handler {
	allowAny := false
	allowed := make(map[string]bool, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			allowAny = true
		} else if o != "" {
			allowed[strings.ToLower(o)] = true
		}
	}
	maxAge := strconv.Itoa(int((24 * time.Hour).Seconds()))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			ok := origin != "" && (allowAny || allowed[strings.ToLower(origin)])
			h := w.Header()
			if origin != "" {
				h.Add("Vary", "Origin")
			}
			if ok {
				if allowAny {
					h.Set("Access-Control-Allow-Origin", "*")
				} else {
					h.Set("Access-Control-Allow-Origin", origin)
				}
				h.Set("Access-Control-Expose-Headers", corsExposed)
			}
			if IsPreflight(r) {
				if ok {
					h.Set("Access-Control-Allow-Methods", corsMethods)
					h.Set("Access-Control-Allow-Headers", corsHeaders)
					h.Set("Access-Control-Max-Age", maxAge)
				}
				// Let the route answer (it adds Accept-Post/Accept-Patch);
				// routes treat preflights as unauthenticated.
			}
			next.ServeHTTP(w, r)
		})
	}
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}
