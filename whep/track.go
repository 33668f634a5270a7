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
// freshly allocated header and the hub's shared, immutable payload. The
// NACK responder (configured without copying, see session.NewAPI) then
// keeps that header and a reference to the payload for retransmissions
// instead of a 1.5 KB copy per packet per viewer, so a viewer's
// retransmission history costs a few hundred bytes per packet slot, and
// the payloads are shared by all viewers of a stream.
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
	t.binds = append(t.binds, binding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType), write: ctx.WriteStream()})
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
// every binding. It implements stream.Sink.
func (t *sendTrack) WriteRTP(p *rtp.Packet) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var errs []error
	for _, b := range t.binds {
		h := new(rtp.Header) // kept by the NACK history: never reused
		*h = p.Header
		h.SSRC, h.PayloadType = b.ssrc, b.pt
		if p.PaddingSize != 0 && h.PaddingSize == 0 {
			h.PaddingSize = p.PaddingSize
		}
		if _, err := b.write.WriteRTP(h, p.Payload); err != nil {
			errs = append(errs, err)
		}
	}
	if t.flowing != nil && len(t.binds) > 0 {
		t.flowing()
	}
	return errors.Join(errs...)
}

var _ webrtc.TrackLocal = (*sendTrack)(nil)
