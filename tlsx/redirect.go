package tlsx

import (
	"net"
	"net/http"
	"strings"
)

// RedirectHandler answers every request of the plain HTTP listener with
// 308 Permanent Redirect to the same host, path and query over HTTPS on the
// port of httpsAddr (the main listener's address). 308, unlike 301 and 302,
// keeps the method and body, so a WHIP POST sent to http:// is repeated
// over https://. In acme mode it also answers http-01 challenges.
func (m *Manager) RedirectHandler(httpsAddr string) http.Handler {
	port := "443"
	if _, p, err := net.SplitHostPort(httpsAddr); err == nil && p != "" && p != "0" {
		port = p
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := requestHost(r.Host)
		if host == "" {
			http.Error(w, "a Host header is needed to redirect to HTTPS", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 literal
		}
		target := "https://" + host
		if port != "443" {
			target += ":" + port
		}
		// RequestURI keeps the path (escaped as sent) and the query.
		w.Header().Set("Location", target+r.URL.RequestURI())
		w.WriteHeader(http.StatusPermanentRedirect)
	})
	if m.acme == nil {
		return h
	}
	challenges := m.acme.HTTPHandler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert checks the Host header against TLS_HOSTS as it is; a
		// CA validating on another port than 80 (or a port-mapping proxy)
		// sends the port too, which is not part of the name.
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			r = r.Clone(r.Context())
			r.Host = h
		}
		challenges.ServeHTTP(w, r)
	})
}

// requestHost is the host of a Host header without its port, or "" when it
// is not a plausible host name or address (the redirect must not point
// anywhere odd).
func requestHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if host == "" || strings.ContainsAny(host, "/\\@?#% \t") {
		return ""
	}
	if strings.Contains(host, ":") {
		if ip := net.ParseIP(host); ip == nil {
			return ""
		}
		return host
	}
	return strings.ToLower(host)
}
