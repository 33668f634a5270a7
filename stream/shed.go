package stream

import "time"

// Shedding: the newest viewers lose their video first.
//
// When the core cannot send a stream's video to all of its viewers, a
// writer that dropped packets for everyone would leave every picture
// broken. Instead, a writer that falls behind serves its video
// subscribers in the order they joined, up to a limit, and skips the
// rest: the viewers watching longest keep every packet, the newest lose
// their video (not their audio, which costs a fraction of it) until the
// core has room again, and new viewers are refused meanwhile (see
// overload.go). A skipped viewer resumes at a keyframe, with sequence
// numbers that carry on from the last packet it got, so its player sees
// a pause rather than a loss to repair.
//
// The writer looks at its lag (how long the oldest packet of a wake-up
// waited) each time it wakes. Above shedLag and still growing, it cuts
// the number served by an eighth, at most every shedStep; once the lag is
// below shedLag/5 it serves a quarter more (and one), at most every
// restoreStep, until it serves everyone again. Cutting only while the lag
// grows keeps a writer that is already catching up from shedding more
// than it needs to.
const (
	shedStep    = 100 * time.Millisecond
	restoreStep = 500 * time.Millisecond
)

// shedding is a writer's view of its load (its own fields: only the
// writer goroutine uses them).
type shedding struct {
	lagLimit int64 // shedLag in ns: Config.OverloadLag/4
	limit    int   // video subscribers served per packet; 0: all
	served   int   // video subscribers of the last run served or shed
	lastLag  int64 // lag at the last change of limit
	at       int64 // when limit last changed (ns since Hub.base)
}

// adjust updates the limit for a wake-up at now whose oldest packet
// arrived at at. It reports whether the writer sheds viewers.
func (s *shedding) adjust(at, now int64) bool {
	lag := now - at
	switch {
	case lag > s.lagLimit && lag >= s.lastLag && now-s.at >= int64(shedStep):
		n := s.limit
		if n == 0 || n > s.served {
			n = s.served
		}
		if n > 1 {
			s.limit = max(1, n-n/8-1)
			s.lastLag, s.at = lag, now
		}
	case s.limit > 0 && lag < s.lagLimit/5 && now-s.at >= int64(restoreStep):
		s.limit += s.limit/4 + 1
		if s.limit >= s.served {
			s.limit = 0
		}
		s.lastLag, s.at = lag, now
	}
	return s.limit > 0
}

// shed skips n packets of s's video: s resumes at the next keyframe, its
// numbering carrying on from the last packet it was sent. Called by the
// writer, which delivers to s.
func (s *Subscription) shed(n int) {
	s.dropped.Add(uint64(n))
	if s.started {
		s.rebase = true
	}
	s.gated = true
}
