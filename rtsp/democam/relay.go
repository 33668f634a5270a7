package democam

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// relay is a path that a client publishes to (ANNOUNCE, RECORD) and
// others read, like gortsplib's examples/server.
type relay struct {
	path      string
	publisher *gortsplib.ServerSession
	stream    *gortsplib.ServerStream
	dropped   atomic.Uint64 // packets the stream refused (closed)
	closeOnce sync.Once
}

// forward hands one publisher packet to the path's readers. It runs on
// the publisher's reading goroutine; the stream queues per reader and
// never blocks on a slow one.
func (r *relay) forward(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
	if err := r.stream.WritePacketRTP(medi, pkt); err != nil {
		r.dropped.Add(1)
	}
}

// close ends the relay: its readers are disconnected.
func (r *relay) close() {
	r.closeOnce.Do(r.stream.Close)
}

// streamFor returns the stream of a path for DESCRIBE and SETUP: the demo
// clip, a published relay, or nil.
func (s *Server) streamFor(path string) *gortsplib.ServerStream {
	path = cleanPath(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return nil
	}
	if path == s.path {
		return s.demo
	}
	if r := s.relays[path]; r != nil {
		return r.stream
	}
	return nil
}

// addRelay makes ss the publisher of path with the announced description,
// and returns the status to answer. A newer publisher replaces an older
// one, whose readers are disconnected.
func (s *Server) addRelay(path string, ss *gortsplib.ServerSession, desc *description.Session) (base.StatusCode, error) {
	switch {
	case path == "":
		return base.StatusBadRequest, errors.New("empty path")
	case path == s.path:
		return base.StatusForbidden, fmt.Errorf("path %q is the demo clip", path)
	case desc == nil || len(desc.Medias) == 0:
		return base.StatusBadRequest, errors.New("no medias announced")
	}

	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return base.StatusServiceUnavailable, ErrClosed
	}
	old := s.relays[path]
	if old == nil && len(s.relays) >= maxRelays {
		s.mu.Unlock()
		return base.StatusServiceUnavailable, fmt.Errorf("%d paths already published", maxRelays)
	}
	r := &relay{
		path:      path,
		publisher: ss,
		stream:    &gortsplib.ServerStream{Server: s.rtsp, Desc: desc},
	}
	if err := r.stream.Initialize(); err != nil {
		s.mu.Unlock()
		return base.StatusInternalServerError, fmt.Errorf("stream: %w", err)
	}
	s.relays[path] = r
	s.mu.Unlock()

	if old != nil {
		s.log.Info("publisher replaced", "path", path)
		old.close()
		old.publisher.Close()
	}
	return base.StatusOK, nil
}

// relayOf returns the relay ss publishes, or nil.
func (s *Server) relayOf(ss *gortsplib.ServerSession) *relay {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.relays {
		if r.publisher == ss {
			return r
		}
	}
	return nil
}

// removeRelay removes and returns the relay ss publishes, or nil. The
// caller closes it.
func (s *Server) removeRelay(ss *gortsplib.ServerSession) *relay {
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, r := range s.relays {
		if r.publisher == ss {
			delete(s.relays, path)
			return r
		}
	}
	return nil
}
