package session

import (
	"fmt"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/webrtc/v4"
)

// Viewers of simulcast streams get a bandwidth estimate: the server stamps
// what it sends them with transport-wide sequence numbers, their players
// answer with TWCC feedback, and Google Congestion Control (pion's send-
// side estimator) turns that into the bitrate their network carries. It
// costs per packet, so only their peer connections are made with it (a
// second pion API over the same sockets), not every viewer's.

// Bounds of the estimate (bits per second): it starts high, so that a
// viewer starts on the best layer and comes down at the first sign of
// congestion, rather than climbing from nothing.
const (
	bweInitial = 4_000_000
	bweMin     = 30_000
	bweMax     = 50_000_000
)

// Estimator is a viewer's bandwidth estimate.
type Estimator interface {
	// Bitrate is the estimated available bitrate, in bits per second.
	Bitrate() int
}

// estimating adds the sender side of TWCC and the GCC estimator to ir.
func (a *API) estimating(ir *interceptor.Registry) error {
	f, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacer: packets leave as the hub hands them over, as for every
		// other viewer; the estimate only chooses layers.
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(bweInitial),
			gcc.SendSideBWEMinBitrate(bweMin), gcc.SendSideBWEMaxBitrate(bweMax),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return fmt.Errorf("congestion control: %w", err)
	}
	// The estimator is made inside NewPeerConnection, on its goroutine:
	// newEstimating picks it up from here under bweMu.
	f.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { a.bweLast = e })
	ir.Add(f)
	// Added after the estimator, so that it runs before it on the way
	// out: the estimator records each packet's transport-wide sequence
	// number, which this stamps.
	hdr, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return fmt.Errorf("twcc header extension: %w", err)
	}
	ir.Add(hdr)
	return nil
}

// newEstimating makes a peer connection with a bandwidth estimator.
func (a *API) newEstimating(cfg webrtc.Configuration) (*webrtc.PeerConnection, Estimator, error) {
	a.bweMu.Lock()
	defer a.bweMu.Unlock()
	a.bweLast = nil
	pc, err := a.bwe.NewPeerConnection(cfg)
	if err != nil {
		return nil, nil, err
	}
	e := a.bweLast
	a.bweLast = nil
	if e == nil {
		_ = pc.Close()
		return nil, nil, fmt.Errorf("no bandwidth estimator was made for the peer connection")
	}
	return pc, gccEstimator{e}, nil
}

// gccEstimator adapts pion's estimator.
type gccEstimator struct{ e cc.BandwidthEstimator }

func (g gccEstimator) Bitrate() int { return g.e.GetTargetBitrate() }

// bweState is the API's part of the above.
type bweState struct {
	bwe     *webrtc.API
	bweMu   sync.Mutex
	bweLast cc.BandwidthEstimator // guarded by bweMu
}
