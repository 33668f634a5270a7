package session

import (
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// retransmitCounter is an interceptor, innermost in the chain, that counts
// the RTP packets sent again (in answer to NACKs): a packet whose sequence
// number is not newer than the highest one its stream has sent. The
// fan-out writes each stream's packets in order, so only resends look old.
type retransmitCounter struct {
	interceptor.NoOp
	n *atomic.Uint64
}

// RetransmitCounts are the server's retransmission counters.
type RetransmitCounts struct {
	// Sent counts packets sent again in answer to NACKs.
	Sent atomic.Uint64
	// Refused counts packets asked for again and held, but not sent again
	// because their stream's retransmission budget (NACK_SHARE) was spent.
	Refused atomic.Uint64
}

// retransmitFactory makes the counters of every peer connection, all
// adding to n.
type retransmitFactory struct{ n *atomic.Uint64 }

// NewInterceptor implements interceptor.Factory.
func (f retransmitFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &retransmitCounter{n: f.n}, nil
}

// BindLocalStream implements interceptor.Interceptor.
func (r *retransmitCounter) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var top atomic.Int32 // highest sequence number sent; -1 before the first
	top.Store(-1)
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		seq := int32(h.SequenceNumber)
		for {
			t := top.Load()
			if t >= 0 && !seqNewer(uint16(seq), uint16(t)) {
				r.n.Add(1)
				break
			}
			if top.CompareAndSwap(t, seq) {
				break
			}
		}
		return w.Write(h, payload, a)
	})
}

// seqNewer reports whether RTP sequence number a comes after b, with
// wrap-around.
func seqNewer(a, b uint16) bool { return a != b && a-b < 0x8000 }

// Retransmissions returns how many packets the server's senders sent again
// in answer to NACKs.
func (m *Manager) Retransmissions() uint64 { return m.api.retransmits.Sent.Load() }

// RetransmissionsRefused returns how many packets viewers asked for again
// that the server held but did not send, their stream's retransmission
// budget being spent.
func (m *Manager) RetransmissionsRefused() uint64 { return m.api.retransmits.Refused.Load() }
