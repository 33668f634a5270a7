package session

import "time"

// Observer hears about sessions and the RTCP their peers send, for
// metrics. Its methods are called without locks held, at most once per
// session event or RTCP packet (never per RTP packet), and must not block.
type Observer interface {
	// SessionCreated: a session of protocol ("whip", "whep") was created.
	SessionCreated(protocol string)
	// SessionRefused: a session was refused because of the caps.
	SessionRefused(protocol string)
	// SessionConnected: ICE and DTLS came up, after since creation.
	SessionConnected(protocol string, since time.Duration)
	// SessionMedia: media first flowed (received from a publisher, sent to
	// a viewer), after since creation.
	SessionMedia(protocol string, since time.Duration)
	// SessionClosed: a session ended for reason; connected says whether it
	// ever connected.
	SessionClosed(protocol, reason string, connected bool)
	// KeyframeRequest: a viewer sent a PLI or FIR ("pli", "fir").
	KeyframeRequest(kind string)
	// Nack: a viewer asked for packets again.
	Nack(packets int)
	// ReceiverReport: a viewer reported loss (fraction of packets, 0 to 1)
	// and interarrival jitter.
	ReceiverReport(lossFraction float64, jitter time.Duration)
	// LayerSwitch: the automatic choice moved a simulcast viewer to a
	// better (up) or a lesser layer.
	LayerSwitch(up bool)
	// BandwidthEstimate: a simulcast viewer's estimated bandwidth, in bits
	// per second, sampled every few seconds.
	BandwidthEstimate(bps int)
}

// SetObserver installs o (nil: none). Call it before serving.
func (m *Manager) SetObserver(o Observer) { m.obs = o }

// Observer returns the manager's observer, nil if none: the WHIP and WHEP
// endpoints report RTCP through it.
func (m *Manager) Observer() Observer { return m.obs }

// MediaFlowing records that the session's media started to flow: the first
// call reports it to the observer, later ones cost one atomic load.
func (s *Session) MediaFlowing() {
	if s.media.Load() || !s.media.CompareAndSwap(false, true) {
		return
	}
	if o := s.m.obs; o != nil {
		o.SessionMedia(s.Protocol, time.Since(s.created))
	}
}

// Connected reports whether the session's peer connection came up.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Observer returns the observer of the session's manager, nil if none.
func (s *Session) Observer() Observer { return s.m.obs }
