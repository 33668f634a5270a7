package democam

import (
	"time"

	"github.com/bluenviron/gortsplib/v4"
)

// addReader counts a session that plays the demo path and starts the
// player goroutine if it is not running.
func (s *Server) addReader(ss *gortsplib.ServerSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.started {
		return
	}
	s.readers[ss] = struct{}{}
	if s.playing {
		return
	}
	s.playing = true
	s.wg.Add(1)
	go s.play()
}

// removeReader forgets a session, if it was a demo reader.
func (s *Server) removeReader(ss *gortsplib.ServerSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.readers[ss]; !ok {
		return
	}
	delete(s.readers, ss)
	if len(s.readers) == 0 {
		s.idleSince = time.Now()
	}
}

// keepPlaying reports whether the player goroutine should go on. When it
// should not, the goroutine is marked stopped in the same critical
// section, so addReader starts a new one if a reader arrives right after.
func (s *Server) keepPlaying(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && (len(s.readers) > 0 || now.Sub(s.idleSince) < s.opts.idleTimeout) {
		return true
	}
	s.playing = false
	return false
}

// play is the player goroutine: it sends the clip's units when they are
// due, and returns on Close or once nobody has watched for idleTimeout.
// Only one runs at a time (s.playing), so it owns s.player meanwhile.
func (s *Server) play() {
	defer s.wg.Done()
	p := s.player
	p.resume(time.Now())
	s.log.Debug("clip player started")
	written, errs := p.written, p.writeErrs

	timer := time.NewTimer(time.Until(p.next()))
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		// Read p before keepPlaying: once it returns false, another
		// goroutine may own p.
		sent, failed := p.written-written, p.writeErrs-errs
		if !s.keepPlaying(now) {
			s.log.Debug("clip player stopped, no readers", "packets", sent, "write_errors", failed)
			return
		}
		next := p.step(now)
		if next.IsZero() {
			next = now.Add(time.Second) // nothing to play; never spin
		}
		timer.Reset(time.Until(next))
	}
}
