package callbridge

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rates limits one kind of event per user (calls a user places, calls
// that ring a user): a token bucket each, refilled at perMinute with a
// burst of half that. Buckets that are full again are forgotten, so the
// map holds only users who used theirs lately.
type rates struct {
	every time.Duration
	burst int

	// mu guards by.
	mu sync.Mutex
	by map[string]*rate.Limiter
}

func newRates(perMinute int) *rates {
	return &rates{every: time.Minute / time.Duration(perMinute), burst: max(perMinute/2, 1), by: map[string]*rate.Limiter{}}
}

// take takes one token of user's bucket at now; when there is none it
// takes nothing and returns how long until there is one.
func (r *rates) take(user string, now time.Time) (wait time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.by[user]
	if l == nil {
		l = rate.NewLimiter(rate.Every(r.every), r.burst)
		r.by[user] = l
	}
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep forgets the buckets that are full again at now.
func (r *rates) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for u, l := range r.by {
		if l.TokensAt(now) >= float64(r.burst) {
			delete(r.by, u)
		}
	}
}
