package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// history is the interceptor that answers NACKs (RFC 4585 §6.2.1) from a
// fixed ring per sent stream. A slot keeps the header fields of a packet
// sent and a reference to its payload, never a copy: senders write
// payloads that nobody modifies afterwards (the hub's, shared by every
// viewer of a stream), so recording a packet allocates nothing and a
// stream's history costs the same whatever it carries. Retransmissions
// go out on the stream's own SSRC with the original sequence number, as
// RFC 4588 allows when no RTX stream is used.
//
// Retransmissions of a stream take at most share percent of the bytes it
// sends, with a burst of resendBurst (a token bucket filled by sending):
// a viewer that asks for everything again, again and again, cannot make
// the server send a multiple of the stream, while a lossy network's
// viewer gets its few lost packets back.
type history struct {
	interceptor.NoOp
	size  uint16
	share int64 // percent
	count *RetransmitCounts
	log   logging.LeveledLogger
	now   func() time.Time

	// mu guards streams.
	mu      sync.Mutex
	streams map[uint32]*ring
}

// historyFactory makes the history of each peer connection.
type historyFactory struct {
	size  uint16
	share int // percent of a stream's bytes that resends may take
	count *RetransmitCounts
	lf    logging.LoggerFactory
}

// NewInterceptor implements interceptor.Factory.
func (f historyFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &history{size: f.size, share: int64(f.share), count: f.count, log: f.lf.NewLogger("nack"), now: time.Now, streams: make(map[uint32]*ring)}, nil
}

// resendBurst is the most bytes a stream may send again at once (about 50
// full packets: a keyframe's worth lost in a burst), and what its bucket
// holds at the start, before its sending has earned any.
const resendBurst = 64 << 10

// rtpHeaderSize is the size of an RTP header without CSRCs or extensions,
// counted with each packet's payload against the budget.
const rtpHeaderSize = 12

// ring is one sent stream's history.
type ring struct {
	ssrc  uint32
	w     interceptor.RTPWriter
	rtt   atomic.Int64 // smoothed round-trip time from receiver reports, ns
	share int64        // percent

	// mu guards the following fields.
	mu    sync.Mutex
	slots []slot
	// top is the extended sequence number (RFC 3550 §A.1: the count of
	// 16-bit wraps above the sequence number) of the newest packet put;
	// a slot is chosen by it, so that a ring whose size does not divide
	// 65536 keeps its newest packets across a wrap. 0 before the first.
	top int64
	// credit is the bytes the stream may still send again, times 100:
	// each byte sent adds share, each byte sent again costs 100, up to
	// resendBurst*100.
	credit int64
}

// slot is one packet sent: its header fields, and its payload shared with
// the sender.
type slot struct {
	payload     []byte
	csrc        *[]uint32 // nil without CSRCs: 8 bytes a slot, not 24
	ext         int64     // extended sequence number, 0: empty
	resentAt    int64     // when the packet was last sent again (UnixNano), 0: never
	timestamp   uint32
	payloadType uint8
	paddingSize uint8
	marker      bool
	padding     bool
}

// minResend is the least time between two retransmissions of one packet,
// on top of the round-trip time: a player NACKs again only when the first
// retransmission did not arrive within about a round trip.
const minResend = 5 * time.Millisecond

// nackable reports whether the receiver of info's stream asked for NACKs
// (a=rtcp-fb:PT nack).
func nackable(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}

// BindLocalStream implements interceptor.Interceptor: packets of the
// stream's own SSRC are recorded, then written on.
func (h *history) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !nackable(info) || h.size == 0 {
		return w
	}
	r := &ring{ssrc: info.SSRC, w: w, share: h.share, slots: make([]slot, h.size), credit: resendBurst * 100}
	h.mu.Lock()
	h.streams[info.SSRC] = r
	h.mu.Unlock()
	return interceptor.RTPWriterFunc(func(hdr *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if hdr.SSRC == r.ssrc {
			r.put(hdr, payload)
		}
		return w.Write(hdr, payload, a)
	})
}

// UnbindLocalStream implements interceptor.Interceptor.
func (h *history) UnbindLocalStream(info *interceptor.StreamInfo) {
	h.mu.Lock()
	r := h.streams[info.SSRC]
	delete(h.streams, info.SSRC)
	h.mu.Unlock()
	if r != nil {
		r.clear()
	}
}

// Close implements interceptor.Interceptor: the payloads are let go.
func (h *history) Close() error {
	h.mu.Lock()
	streams := h.streams
	h.streams = make(map[uint32]*ring)
	h.mu.Unlock()
	for _, r := range streams {
		r.clear()
	}
	return nil
}

// BindRTCPReader implements interceptor.Interceptor: NACKs are answered
// from the histories, on the reading goroutine, and receiver reports
// update the round-trip times that space retransmissions of one packet.
func (h *history) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		if attr == nil {
			attr = make(interceptor.Attributes)
		}
		pkts, err := attr.GetRTCPPackets(b[:n])
		if err != nil {
			return 0, nil, err
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				h.resend(p)
			case *rtcp.ReceiverReport:
				h.noteRTT(p.Reports)
			case *rtcp.SenderReport:
				h.noteRTT(p.Reports)
			}
		}
		return n, attr, nil
	})
}

// lookup returns the history of ssrc, nil if none.
func (h *history) lookup(ssrc uint32) *ring {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams[ssrc]
}

// resend sends again the packets nack lists that the history still holds.
func (h *history) resend(nack *rtcp.TransportLayerNack) {
	r := h.lookup(nack.MediaSSRC)
	if r == nil {
		return
	}
	now := h.now().UnixNano()
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			var hdr rtp.Header
			payload, res := r.take(seq, now, &hdr)
			switch res {
			case resendOK:
				if _, err := r.w.Write(&hdr, payload, nil); err != nil {
					h.log.Debugf("resend %d: %v", seq, err)
				}
			case resendOverBudget:
				h.count.Refused.Add(1)
			}
			return true
		})
	}
}

// noteRTT folds the round-trip times that reports give (RFC 3550 §6.4.1)
// into the streams' estimates.
func (h *history) noteRTT(reports []rtcp.ReceptionReport) {
	now := ntp32(h.now())
	for _, rep := range reports {
		if rep.LastSenderReport == 0 {
			continue
		}
		r := h.lookup(rep.SSRC)
		d := now - rep.LastSenderReport - rep.Delay
		if r == nil || d >= 1<<31 {
			continue
		}
		rtt := int64(time.Duration(d) * time.Second / (1 << 16))
		old := r.rtt.Load()
		if old != 0 {
			rtt = old + (rtt-old)/8
		}
		r.rtt.Store(rtt)
	}
}

// ntp32 is the middle 32 bits of t's NTP timestamp, as RTCP's LSR field
// carries them.
func ntp32(t time.Time) uint32 {
	const epochOffset = 2208988800 // 1900 to 1970, seconds
	secs := uint64(t.Unix() + epochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return uint32(secs<<16 | frac>>16)
}

// extBase is the extended sequence number of a stream's first packet's
// cycle: high enough that no packet the ring can hold is numbered 0 or
// below.
const extBase = 1 << 32

// extend returns the extended sequence number of seq: the one nearest
// top (newer by up to 2^15, older by up to 2^15). r.mu must be held.
func (r *ring) extend(seq uint16) int64 {
	if r.top == 0 {
		return extBase + int64(seq)
	}
	return r.top + int64(int16(seq-uint16(r.top)))
}

// put records one packet sent.
func (r *ring) put(h *rtp.Header, payload []byte) {
	r.mu.Lock()
	ext := r.extend(h.SequenceNumber)
	if ext > r.top {
		r.top = ext
	}
	r.credit = min(r.credit+int64(rtpHeaderSize+len(payload))*r.share, resendBurst*100)
	var csrc *[]uint32
	if len(h.CSRC) > 0 {
		c := h.CSRC // rare (mixers): one allocation for such a packet
		csrc = &c
	}
	s := &r.slots[ext%int64(len(r.slots))]
	*s = slot{
		payload:     payload,
		csrc:        csrc,
		ext:         ext,
		timestamp:   h.Timestamp,
		payloadType: h.PayloadType,
		paddingSize: h.PaddingSize,
		marker:      h.Marker,
		padding:     h.Padding,
	}
	r.mu.Unlock()
}

// resendResult is what take decided about one packet asked for again.
type resendResult int

const (
	resendOK         resendResult = iota // send it
	resendUnknown                        // not held: never sent, or too old
	resendTooSoon                        // sent again less than a round trip ago
	resendOverBudget                     // the stream's retransmission budget is spent
)

// take fills h with the header of packet seq and returns its payload, if
// the ring still holds it, it was not sent again within the last round
// trip (plus minResend), and the stream's budget affords it.
func (r *ring) take(seq uint16, now int64, h *rtp.Header) ([]byte, resendResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.top == 0 {
		return nil, resendUnknown
	}
	ext := r.extend(seq)
	s := &r.slots[ext%int64(len(r.slots))]
	if s.ext != ext {
		return nil, resendUnknown // never sent (a gap, or not yet), or overwritten
	}
	if s.resentAt != 0 && now-s.resentAt < r.rtt.Load()+int64(minResend) {
		return nil, resendTooSoon
	}
	cost := int64(rtpHeaderSize+len(s.payload)) * 100
	if r.credit < cost {
		return nil, resendOverBudget
	}
	r.credit -= cost
	s.resentAt = now
	*h = rtp.Header{
		Version:        2,
		Padding:        s.padding,
		Marker:         s.marker,
		PayloadType:    s.payloadType,
		SequenceNumber: seq,
		Timestamp:      s.timestamp,
		SSRC:           r.ssrc,
		PaddingSize:    s.paddingSize,
	}
	if s.csrc != nil {
		h.CSRC = *s.csrc
	}
	return s.payload, resendOK
}

// clear lets go of the payloads.
func (r *ring) clear() {
	r.mu.Lock()
	clear(r.slots)
	r.mu.Unlock()
}
