package auth

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wishcast/wishcast/internal/streamname"
)

// maxLimiterKeys bounds the limiter's memory under a spray of names or
// addresses: past it, stale keys are swept and then arbitrary ones dropped.
const maxLimiterKeys = 100_000

// limiter counts sign-in attempts per key (a user name, a client address)
// in a sliding window. An attempt counts from when it starts, before the
// slow password check, so parallel guesses cannot all pass one check; a
// successful sign-in takes its own attempt back.
type limiter struct {
	max    int
	window time.Duration

	// mu guards all following fields.
	mu        sync.Mutex
	attempts  map[string][]time.Time // per key, oldest first, only within window
	lastSweep time.Time
}

// newLimiter returns a limiter allowing maxAttempts attempts per key per window.
func newLimiter(maxAttempts int, window time.Duration) *limiter {
	return &limiter{max: maxAttempts, window: window, attempts: make(map[string][]time.Time)}
}

// begin records an attempt at now under every non-empty key, unless one of
// them is at its limit: then nothing is recorded and the wait until that
// key's oldest attempt leaves the window is returned.
func (l *limiter) begin(now time.Time, keys ...string) (wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if k == "" {
			continue
		}
		ts := l.recent(k, now)
		if len(ts) >= l.max {
			wait = max(wait, ts[len(ts)-l.max].Add(l.window).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, k := range keys {
		if k != "" {
			l.attempts[k] = append(l.attempts[k], now)
		}
	}
	l.sweep(now)
	return 0
}

// succeeded takes back the attempt begun at at under keys.
func (l *limiter) succeeded(at time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		ts := l.attempts[k]
		if i := slices.IndexFunc(ts, at.Equal); i >= 0 {
			ts = slices.Delete(ts, i, i+1)
		}
		if len(ts) == 0 {
			delete(l.attempts, k)
		} else {
			l.attempts[k] = ts
		}
	}
}

// recent drops k's attempts older than the window and returns the rest.
// l.mu is held.
func (l *limiter) recent(k string, now time.Time) []time.Time {
	ts := l.attempts[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	if i > 0 {
		ts = slices.Delete(ts, 0, i)
		if len(ts) == 0 {
			delete(l.attempts, k)
		} else {
			l.attempts[k] = ts
		}
	}
	return ts
}

// sweep forgets stale keys once a window, or at once when there are too
// many; if there are still too many, it drops arbitrary ones. l.mu is held.
func (l *limiter) sweep(now time.Time) {
	if len(l.attempts) <= maxLimiterKeys && now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for k, ts := range l.attempts {
		if now.Sub(ts[len(ts)-1]) >= l.window {
			delete(l.attempts, k)
		}
	}
	for k := range l.attempts {
		if len(l.attempts) <= maxLimiterKeys {
			break
		}
		delete(l.attempts, k)
	}
}

// userKey is the limiter key of a user name as typed: names are unique
// without regard to ASCII case, so the key ignores it too.
func userKey(name string) string {
	if len(name) > streamname.MaxSegmentLen+1 {
		name = name[:streamname.MaxSegmentLen+1]
	}
	return "u:" + strings.ToLower(name)
}

// addrKey is the limiter key of a client address ("ip" or "ip:port"). IPv6
// addresses count per /64, the block one host usually holds. An empty
// address gives "" (not limited by address; the user limit still applies).
func addrKey(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ""
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		if len(addr) > 64 {
			addr = addr[:64]
		}
		return "a:" + addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "a:" + p.String()
	}
	return "a:" + ip.String()
}
