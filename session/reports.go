package session

import (
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// senderReports sends the RTCP sender reports (RFC 3550 §6.4.1) of every
// peer connection of the APIs it is registered with, from one goroutine
// and one ticker, rather than a goroutine and a ticker per peer
// connection as pion's report interceptor has. A viewer's player needs
// them to play audio and video in sync, and they carry the NTP time the
// NACK history's round-trip estimate starts from (history.noteRTT).
//
// Recording a packet sent takes an uncontended lock; the clock is read
// once per frame (when the RTP timestamp changes), not once per packet.
// The goroutine runs while at least one stream is bound.
type senderReports struct {
	interval time.Duration
	log      logging.LeveledLogger
	now      func() time.Time

	// mu guards the following fields.
	mu      sync.Mutex
	conns   map[*reportConn]struct{}
	running bool // the loop goroutine is running
}

// newSenderReports returns reports sent every interval.
func newSenderReports(interval time.Duration, lf logging.LoggerFactory) *senderReports {
	return &senderReports{interval: interval, log: lf.NewLogger("report"), now: time.Now, conns: make(map[*reportConn]struct{})}
}

// NewInterceptor implements interceptor.Factory: the reports of one peer
// connection.
func (f *senderReports) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &reportConn{f: f}, nil
}

// add makes c's streams reported, starting the loop if it is idle.
func (f *senderReports) add(c *reportConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns[c] = struct{}{}
	if !f.running {
		f.running = true
		go f.loop()
	}
}

// remove stops reporting c's streams.
func (f *senderReports) remove(c *reportConn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// loop sends every connection's reports each interval, until no
// connection is left.
func (f *senderReports) loop() {
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	var conns []*reportConn
	for range tick.C {
		f.mu.Lock()
		if len(f.conns) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		conns = conns[:0]
		for c := range f.conns {
			conns = append(conns, c)
		}
		f.mu.Unlock()
		now := f.now()
		for _, c := range conns {
			c.send(now)
		}
		clear(conns)
	}
}

// reportConn is the sender reports of one peer connection.
type reportConn struct {
	interceptor.NoOp
	f *senderReports

	// mu guards the following fields.
	mu      sync.Mutex
	w       interceptor.RTCPWriter
	streams []*reportStream
	closed  bool
	added   bool // c is in f.conns
}

// reportStream is what one sent stream's report says.
type reportStream struct {
	ssrc      uint32
	clockRate uint32

	// mu guards the following fields: counts, and the RTP timestamp of
	// the newest frame with when its first packet was sent.
	mu      sync.Mutex
	packets uint32
	octets  uint32 // payload bytes, wrapping as RFC 3550 says
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
	started bool
}

// BindRTCPWriter implements interceptor.Interceptor: reports go out
// through w.
func (c *reportConn) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	c.mu.Lock()
	c.w = w
	c.mu.Unlock()
	return w
}

// BindLocalStream implements interceptor.Interceptor: the stream's
// packets are counted, and it is reported from the next interval on.
func (c *reportConn) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &reportStream{ssrc: info.SSRC, clockRate: info.ClockRate}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return w
	}
	c.streams = append(c.streams, s)
	if !c.added {
		// Under c.mu, so that a Close meanwhile (which removes c after
		// marking it closed) cannot leave c in the loop for good. The
		// loop never takes c.mu while holding f.mu.
		c.added = true
		c.f.add(c)
	}
	c.mu.Unlock()
	now := c.f.now
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		s.sent(h, len(payload), now)
		return w.Write(h, payload, a)
	})
}

// UnbindLocalStream implements interceptor.Interceptor.
func (c *reportConn) UnbindLocalStream(info *interceptor.StreamInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.streams {
		if s.ssrc == info.SSRC {
			c.streams = append(c.streams[:i], c.streams[i+1:]...)
			return
		}
	}
}

// Close implements interceptor.Interceptor: no more reports.
func (c *reportConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.streams = nil
	c.mu.Unlock()
	c.f.remove(c)
	return nil
}

// send writes a report for each of c's streams that has sent a packet.
func (c *reportConn) send(now time.Time) {
	c.mu.Lock()
	w, streams := c.w, c.streams
	if c.closed || w == nil {
		c.mu.Unlock()
		return
	}
	var reports [4]rtcp.Packet
	pkts := reports[:0]
	for _, s := range streams {
		if sr := s.report(now); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	c.mu.Unlock()
	for _, p := range pkts {
		// Attributes of their own: a writer down the chain may set some.
		if _, err := w.Write([]rtcp.Packet{p}, interceptor.Attributes{}); err != nil {
			c.f.log.Debugf("sender report: %v", err)
			return
		}
	}
}

// sent records a packet written: the first packet of each newer frame
// fixes the pair of RTP and wall-clock time that reports extrapolate from.
// A packet older than the newest (a late one) is counted only.
func (s *reportStream) sent(h *rtp.Header, n int, now func() time.Time) {
	s.mu.Lock()
	s.packets++
	s.octets += uint32(n)
	if !s.started || (h.SequenceNumber-s.lastSeq < 1<<15 && h.SequenceNumber != s.lastSeq) {
		s.lastSeq = h.SequenceNumber
		if !s.started || h.Timestamp != s.lastTS {
			s.lastTS, s.lastAt = h.Timestamp, now()
		}
		s.started = true
	}
	s.mu.Unlock()
}

// report is the stream's sender report at now, nil before its first
// packet.
func (s *reportStream) report(now time.Time) *rtcp.SenderReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	// In floating point: nanoseconds times a 90 kHz clock pass int64's
	// range after about a day without a packet.
	ticks := uint32(uint64(now.Sub(s.lastAt).Seconds() * float64(s.clockRate)))
	return &rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     ntp64(now),
		RTPTime:     s.lastTS + ticks,
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}
}

// ntp64 is t as a 64-bit NTP timestamp: seconds since 1900 in the high
// half, the fraction of a second in the low half.
func ntp64(t time.Time) uint64 {
	const epochOffset = 2208988800 // 1900 to 1970, seconds
	secs := uint64(t.Unix() + epochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}
