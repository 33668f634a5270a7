package rtsp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// maxDials bounds the connections one camera session opens: the first,
// a transport switch, and a few DESCRIBE redirects.
const maxDials = 4

// errRedirect is returned when a camera redirects where it may not.
var errRedirect = errors.New("camera redirect refused")

// guard is the dialer of one camera session. It enforces the allowed
// networks at dial time (after DNS, so rebinding cannot dodge it), caps
// redirects, and never lets the camera's credentials follow a redirect to
// another host (gortsplib copies them to the new URL).
type guard struct {
	host     string // the configured camera host
	hasCreds bool
	allowed  []netip.Prefix
	dialer   net.Dialer

	mu    sync.Mutex
	dials int
}

// DialContext is gortsplib's Client.DialContext.
func (g *guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	g.mu.Lock()
	g.dials++
	n := g.dials
	g.mu.Unlock()
	if n > maxDials {
		return nil, fmt.Errorf("%w: more than %d connections (redirect loop?)", errRedirect, maxDials)
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	if host != g.host && g.hasCreds {
		return nil, fmt.Errorf("%w: to another host (%s) with the camera's credentials", errRedirect, host)
	}
	d := g.dialer
	d.Control = func(_, addr string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return fmt.Errorf("camera address %s: %w", addr, err)
		}
		if !g.permitted(ap.Addr()) {
			return fmt.Errorf("%w: %s is outside the allowed networks (setting RTSP_ALLOWED_NETWORKS)", ErrNetworkRefused, ap.Addr())
		}
		return nil
	}
	return d.DialContext(ctx, network, address)
}

// permitted applies the network rule: link-local and cloud metadata
// addresses never, else the list.
func (g *guard) permitted(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || isMetadata(a) {
		return false
	}
	for _, p := range g.allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isMetadata reports cloud metadata services outside link-local, inside
// networks cameras may otherwise be on: AWS's IPv6 endpoint (in fc00::/7)
// and Alibaba Cloud's (in 100.64.0.0/10). The usual 169.254.169.254 is
// link-local.
func isMetadata(a netip.Addr) bool {
	return a == netip.MustParseAddr("fd00:ec2::254") || a == netip.MustParseAddr("100.100.100.200")
}

// parseNetworks parses the allowed-network setting.
func parseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("allowed camera network %q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
