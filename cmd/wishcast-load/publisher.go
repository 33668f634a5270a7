package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// publisher is the WHIP session that sends the synthetic stream.
type publisher struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	location string
	src      source
	fps      int

	sent   atomic.Uint64 // RTP packets written
	bytes  atomic.Uint64 // RTP payload bytes written
	errors atomic.Uint64 // failed writes
	plis   atomic.Uint64 // keyframe requests (PLI, FIR) from the server
	nacks  atomic.Uint64 // NACK packets from the server
	stalls atomic.Uint64 // times the sender fell more than maxBacklog behind

	stop chan struct{}
	wg   sync.WaitGroup
}

// startPublisher connects over WHIP and starts sending src, fps frames a
// second, once connected. codec (codecVP8 or codecH264) is src's codec.
func startPublisher(ctx context.Context, api *webrtc.API, hc *http.Client, endpoint, codec string, src source, fps int) (*publisher, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &publisher{pc: pc, src: src, fps: fps, stop: make(chan struct{})}
	fail := func(err error) (*publisher, error) {
		_ = pc.Close()
		return nil, err
	}
	p.track, err = webrtc.NewTrackLocalStaticRTP(codecParameters(codec).RTPCodecCapability, "video", "wishcast-load")
	if err != nil {
		return fail(err)
	}
	tr, err := pc.AddTransceiverFromTrack(p.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fail(err)
	}
	w := watchConnection(pc, nil)
	p.wg.Add(1)
	go p.readRTCP(tr.Sender())
	p.location, err = exchange(ctx, hc, pc, endpoint)
	if err != nil {
		if p.location != "" {
			_ = deleteSession(context.WithoutCancel(ctx), hc, p.location)
		}
		_ = pc.Close()
		p.wg.Wait()
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if err := w.waitUp(ctx); err != nil {
		p.close(context.WithoutCancel(ctx), hc)
		return nil, fmt.Errorf("publisher: %w", err)
	}
	p.wg.Add(1)
	go p.send()
	return p, nil
}

// readRTCP drains and counts what the server sends back.
func (p *publisher) readRTCP(s *webrtc.RTPSender) {
	defer p.wg.Done()
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.plis.Add(1)
			case *rtcp.TransportLayerNack:
				p.nacks.Add(1)
			}
		}
	}
}

// maxBacklog is how far the sender may fall behind its schedule (the
// process starved of CPU) and still catch up with back-to-back frames;
// further behind, the missed frames are dropped and counted as a stall.
const maxBacklog = 500 * time.Millisecond

// send writes frame n at start + n/fps, its packets back to back as an
// encoder would, until stop. A late sender catches up, so the stream keeps
// its rate when the load process is briefly starved. Sequence numbers run
// on across the whole run and timestamps follow the frame count, also
// when the source repeats a clip.
//
// Keyframe requests from the server are counted, not answered: keyframes
// come every GOP frames whatever the server asks.
func (p *publisher) send() {
	defer p.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	// The payload type is the one negotiated: WriteRTP sets it.
	pkt := rtp.Packet{Header: rtp.Header{Version: 2}}
	emit := func(payload []byte, last bool) {
		pkt.Marker = last
		pkt.Payload = payload
		// WriteRTP encrypts synchronously, so payload is free again.
		if err := p.track.WriteRTP(&pkt); err != nil {
			p.errors.Add(1)
		} else {
			p.sent.Add(1)
			p.bytes.Add(uint64(len(payload)))
		}
		pkt.SequenceNumber++
	}
	fps := time.Duration(p.fps)
	start := time.Now()
	for frame := 0; ; frame++ {
		due := start.Add(time.Duration(frame) * time.Second / fps)
		wait := time.Until(due)
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-p.stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-p.stop:
				return
			default:
			}
			if -wait > maxBacklog {
				start = start.Add(-wait) // give up the missed frames
				p.stalls.Add(1)
			}
		}
		pkt.Timestamp = uint32(int64(frame) * 90000 / int64(p.fps))
		p.src.frame(frame, emit)
	}
}

// close stops sending, deletes the session and closes the connection.
func (p *publisher) close(ctx context.Context, hc *http.Client) error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	err := deleteSession(ctx, hc, p.location)
	_ = p.pc.Close()
	p.wg.Wait()
	return err
}
