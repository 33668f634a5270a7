package whep

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// viewer is one track of a WHEP session: a hub subscription feeding a pion
// local track, and the RTCP coming back from the player.
type viewer struct {
	sess  *session.Session
	track *stream.Track
	local *sendTrack
	sub   atomic.Pointer[stream.Subscription]
	// layers are the simulcast layers of the video (nil for a track of one
	// encoding), and pick chooses the one to start with.
	layers []*stream.Track
	pick   func() int
}

// start subscribes once the connection is up, so the keyframe cache is not
// spent on a transport that cannot send yet.
func (v *viewer) start() {
	select {
	case <-v.sess.Done():
		return
	default:
	}
	var sub *stream.Subscription
	if v.layers != nil {
		sub = stream.SubscribeLayers(v.layers, v.pick(), v.local)
	} else {
		sub = v.track.Subscribe(v.local)
	}
	v.sub.Store(sub)
	v.sess.OnClose(sub.Close)
	go func() {
		select {
		case <-sub.Done():
			// The hub ended the subscription: the stream is gone or its
			// codec changed. A WHEP session cannot renegotiate (C46).
			v.sess.Close(session.ReasonServer)
		case <-v.sess.Done():
		}
	}()
}

// jitter converts an RTCP jitter (in RTP clock units) to time.
func (v *viewer) jitter(units uint32) time.Duration {
	rate := v.track.Codec().ClockRate
	if rate == 0 {
		return 0
	}
	return time.Duration(uint64(units) * uint64(time.Second) / uint64(rate))
}

// readRTCP drains the sender's RTCP (the NACK and report interceptors need
// it read) and forwards keyframe requests to the publisher via the hub.
func (v *viewer) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		obs := v.sess.Observer()
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if sub := v.sub.Load(); sub != nil {
					sub.RequestKeyframe()
				}
				if obs != nil {
					kind := "pli"
					if _, fir := p.(*rtcp.FullIntraRequest); fir {
						kind = "fir"
					}
					obs.KeyframeRequest(kind)
				}
			case *rtcp.TransportLayerNack:
				if obs != nil {
					n := 0
					for _, pair := range p.Nacks {
						n += len(pair.PacketList())
					}
					obs.Nack(n)
				}
			case *rtcp.ReceiverReport:
				if obs != nil {
					for _, r := range p.Reports {
						obs.ReceiverReport(float64(r.FractionLost)/256, v.jitter(r.Jitter))
					}
				}
			}
		}
	}
}
