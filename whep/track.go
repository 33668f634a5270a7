package whep

import (
	"errors"
	"slices"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sendTrack is the pion TrackLocal of a viewer. Codec negotiation is
// TrackLocalStaticRTP's; writing is its own: each packet goes out with a
// header of the binding's, rewritten in place, and the hub's shared,
// immutable payload. The NACK history (session's, innermost in the
// interceptor chain) copies the header fields it needs and keeps a
// reference to the payload, so sending allocates nothing and the payloads
// are shared by all viewers of a stream.
type sendTrack struct {
	*webrtc.TrackLocalStaticRTP

	mu    sync.RWMutex
	binds []binding
	// flowing is called after each packet written (Session.MediaFlowing:
	// one atomic load once media flows); nil: nothing.
	flowing func()
}

type binding struct {
	id    string
	ssrc  uint32
	pt    uint8
	write webrtc.TrackLocalWriter
	// hdr is the header handed to write, reused for every packet: WriteRTP
	// has one caller at a time (the stream's writer, or the subscription's
	// own goroutine, never both), and nothing down the chain keeps it.
	hdr *rtp.Header
}

func newSendTrack(c webrtc.RTPCodecCapability, id, streamID string) (*sendTrack, error) {
	inner, err := webrtc.NewTrackLocalStaticRTP(c, id, streamID)
	if err != nil {
		return nil, err
	}
	return &sendTrack{TrackLocalStaticRTP: inner}, nil
}

// Bind implements webrtc.TrackLocal.
func (t *sendTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err != nil {
		return codec, err
	}
	t.mu.Lock()
	t.binds = append(t.binds, binding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType), write: ctx.WriteStream(), hdr: new(rtp.Header)})
	t.mu.Unlock()
	return codec, nil
}

// ssrcs returns the SSRCs the track is sent with.
func (t *sendTrack) ssrcs() []uint32 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]uint32, len(t.binds))
	for i, b := range t.binds {
		out[i] = b.ssrc
	}
	return out
}

// Unbind implements webrtc.TrackLocal.
func (t *sendTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.binds = slices.DeleteFunc(t.binds, func(b binding) bool { return b.id == ctx.ID() })
	t.mu.Unlock()
	return t.TrackLocalStaticRTP.Unbind(ctx)
}

// WriteRTP sends p (the hub's rewritten header over a shared payload) to
// every binding. It implements stream.Sink, whose calls come from one
// goroutine at a time.
func (t *sendTrack) WriteRTP(p *rtp.Packet) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var err error
	for _, b := range t.binds {
		h := b.hdr
		*h = p.Header // an interceptor may have added extensions: dropped
		h.SSRC, h.PayloadType = b.ssrc, b.pt
		if _, e := b.write.WriteRTP(h, p.Payload); e != nil {
			err = errors.Join(err, e)
		}
	}
	if t.flowing != nil && len(t.binds) > 0 {
		t.flowing()
	}
	return err
}

var _ webrtc.TrackLocal = (*sendTrack)(nil)
