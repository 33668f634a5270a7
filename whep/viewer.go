package whep

import (
	"slices"
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
	// lost is the latest fraction lost the player reported for this
	// track (RTCP receiver report, in 1/256), and lostAt when.
	lost   atomic.Uint32
	lostAt atomic.Int64
}

// lossStale is how old a loss report may be and still count.
const lossStale = 3 * time.Second

// loss returns the fraction of packets the player last reported lost, 0
// when it reported nothing lately or only before since (a report covers
// the second or so before it: after a switch, the old layer's losses).
func (v *viewer) loss(since time.Time) float64 {
	at := time.Unix(0, v.lostAt.Load())
	if time.Since(at) > lossStale || at.Before(since) {
		return 0
	}
	return float64(v.lost.Load()) / 256
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
	sub.AfterDone(func() {
		// Ended by the hub (the stream is gone or its codec changed: a
		// WHEP session cannot renegotiate, C46), or by the session's own
		// end, whose reason Close keeps.
		v.sess.Close(session.ReasonServer)
	})
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
				for _, r := range p.Reports {
					if obs != nil {
						obs.ReceiverReport(float64(r.FractionLost)/256, v.jitter(r.Jitter))
					}
					if slices.Contains(v.local.ssrcs(), r.SSRC) { // a report may cover the audio too
						v.lost.Store(uint32(r.FractionLost))
						v.lostAt.Store(time.Now().UnixNano())
					}
				}
			}
		}
	}
}
