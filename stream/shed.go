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
// waited) each time it wakes. Above shedLag, and larger than it was
// shedStep before, it cuts the number served by an eighth; once the lag
// is below shedLag/5 it serves a quarter more (and one), at most every
// restoreStep, until it serves everyone again. Cutting only while the lag
// grows keeps a writer that is already catching up from shedding more
// than it needs to, and one late wake-up (the machine stalled for a
// moment) from shedding at all.
const (
	shedStep    = 100 * time.Millisecond
	restoreStep = 500 * time.Millisecond
)

// shedding is a writer's view of its load (its own fields: only the
// writer goroutine uses them).
type shedding struct {
	lagLimit int64 // shedLag in ns: Config.OverloadLag/4
	limit    int   // video subscribers served per packet; 0: all
	// served is the most video subscribers one run served or shed,
	// over the last shedStep and the current one (peak): a simulcast
	// stream's writer serves its layers in runs of their own, and the
	// limit is taken from the largest, not from whichever ran last.
	served   int
	peak     int
	peakFrom int64 // when peak started counting
	behind   int64 // when the lag was last seen above lagLimit and growing; 0: not behind
	lastLag  int64 // the lag then
	at       int64 // when limit last changed (ns since Hub.base)
}

// adjust updates the limit for a wake-up at now whose oldest packet
// arrived at at. It reports whether the writer sheds viewers. A late
// wake-up alone changes nothing (the machine may have stalled for a
// moment, and the writer catches up); the limit is cut when the lag is
// still above the limit, and larger, shedStep later.
func (s *shedding) adjust(at, now int64) bool {
	if now-s.peakFrom >= int64(shedStep) {
		s.served, s.peak, s.peakFrom = s.peak, 0, now
	}
	lag := now - at
	switch {
	case lag <= s.lagLimit:
		s.behind = 0
		if s.limit > 0 && lag < s.lagLimit/5 && now-s.at >= int64(restoreStep) {
			s.limit += s.limit/4 + 1
			if s.limit >= s.served {
				s.limit = 0
			}
			s.at = now
		}
	case s.behind == 0:
		s.behind, s.lastLag = now, lag
	case now-s.behind >= int64(shedStep):
		if n := s.limit; lag >= s.lastLag {
			if n == 0 || n > s.served {
				n = s.served
			}
			if n > 1 {
				s.limit = max(1, n-n/8-1)
				s.at = now
			}
		}
		s.behind, s.lastLag = now, lag
	}
	return s.limit > 0
}

// ran records a run of packets that n video subscribers were served or
// shed.
func (s *shedding) ran(n int) {
	s.peak = max(s.peak, n)
	s.served = max(s.served, n)
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
