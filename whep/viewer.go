package whep

import (
	"sync/atomic"

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
}

// start subscribes once the connection is up, so the keyframe cache is not
// spent on a transport that cannot send yet.
func (v *viewer) start() {
	select {
	case <-v.sess.Done():
		return
	default:
	}
	sub := v.track.Subscribe(v.local)
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

// readRTCP drains the sender's RTCP (the NACK and report interceptors need
// it read) and forwards keyframe requests to the publisher via the hub.
func (v *viewer) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if sub := v.sub.Load(); sub != nil {
					sub.RequestKeyframe()
				}
			}
		}
	}
}
