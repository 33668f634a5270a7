package tlsx

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// schemeKey is the context key under which Proxies stores the scheme.
type schemeKey struct{}

// Scheme is the scheme the client used to reach the server: "https" or
// "http". Behind a trusted proxy (see Proxies) it is the proxy's
// X-Forwarded-Proto; otherwise it is whether the connection is TLS.
func Scheme(r *http.Request) string {
	if s, ok := r.Context().Value(schemeKey{}).(string); ok {
		return s
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Proxies returns the middleware that believes X-Forwarded-For and
// X-Forwarded-Proto only when the TCP peer is one of cfg.TrustedProxies.
// Then r.RemoteAddr becomes the client's address ("ip:0", the client's
// port is not known): the right-most X-Forwarded-For hop that is not itself
// a trusted proxy. From any other peer those headers (and X-Forwarded-Host,
// X-Real-IP, Forwarded) are removed. Either way Scheme(r) tells the scheme.
func Proxies(cfg Config) (func(http.Handler) http.Handler, error) {
	trusted, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, forwarded(r, trusted))
		})
	}, nil
}

// forwarded returns r as seen through the trusted proxies.
func forwarded(r *http.Request, trusted []netip.Prefix) *http.Request {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	peer, ok := addrOf(r.RemoteAddr)
	if !ok || !contains(trusted, peer) {
		r = r.WithContext(context.WithValue(r.Context(), schemeKey{}, scheme))
		stripForwarded(r)
		return r
	}
	if p := firstValue(r.Header.Values("X-Forwarded-Proto")); p == "http" || p == "https" {
		scheme = p
	}
	r = r.WithContext(context.WithValue(r.Context(), schemeKey{}, scheme))
	if client, ok := clientOf(r.Header.Values("X-Forwarded-For"), trusted); ok {
		r.RemoteAddr = net.JoinHostPort(client.String(), "0")
	}
	return r
}

// clientOf walks the X-Forwarded-For hops from the right (the hop our
// trusted peer saw) to the left, skipping trusted proxies: the first hop
// that is not one is the client. A hop that does not parse ends the walk,
// and the last good hop stands: whatever is left of it may be forged.
func clientOf(values []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var client netip.Addr
	found := false
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := addrOf(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		client, found = a, true
		if !contains(trusted, a) {
			break
		}
	}
	return client, found
}

// firstValue is the left-most element of a comma-separated header: the
// scheme the client used with the first proxy, in lower case.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(values[0], ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// addrOf parses "ip", "ip:port" or "[ipv6]:port", unmapping IPv4-in-IPv6.
func addrOf(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// stripForwarded removes the headers by which a proxy reports the client,
// so that no handler behind an untrusted peer can be fooled by them. The
// header map is copied first: r is a shallow copy sharing the original's.
func stripForwarded(r *http.Request) {
	names := [...]string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Forwarded"}
	for _, k := range names {
		if _, ok := r.Header[k]; ok {
			r.Header = r.Header.Clone()
			for _, k := range names {
				r.Header.Del(k)
			}
			return
		}
	}
}

// parseProxies reads TRUSTED_PROXIES: addresses (a /32 or /128) or CIDRs.
func parseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap().WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is neither an address nor a CIDR such as 10.0.0.0/8", s)
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8 for the unmapped peers.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("TRUSTED_PROXIES: %q mixes IPv4-mapped and IPv6 addresses", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
