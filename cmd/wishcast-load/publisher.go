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

// vp8Source describes the synthetic VP8 stream: frames of frameBytes at
// fps, split into packets of at most packetBytes, a keyframe every gop
// frames.
type vp8Source struct {
	fps, gop    int
	frameBytes  int
	packetBytes int
}

func newVP8Source(bitrate, packetBytes, fps, gop int) vp8Source {
	fb := max(bitrate/8/fps, 16)
	return vp8Source{fps: fps, gop: gop, frameBytes: fb, packetBytes: packetBytes}
}

// packetsPerFrame is how many packets carry one frame.
func (s vp8Source) packetsPerFrame() int {
	return (s.frameBytes + s.packetBytes - 1) / s.packetBytes
}

// packetSize is the payload size of packet i of a frame: packetBytes for
// all but the last, which carries the rest of the frame (so the stream's
// bitrate is the one asked for).
func (s vp8Source) packetSize(i int) int {
	n := s.packetsPerFrame()
	if i < n-1 {
		return s.packetBytes
	}
	return max(s.frameBytes-(n-1)*s.packetBytes, 8)
}

// fillVP8 writes packet i of frame n into p (len(p) >= 8). The layout is
// the test harness's vp8Frame: a one-byte payload descriptor (S=1 on the
// first packet of a frame, PID 0), then on that first packet the frame
// tag whose P bit says key (0) or inter (1), and for a keyframe the start
// code and a 640x480 size.
func fillVP8(p []byte, frame, i int, key bool) {
	clear(p[:8])
	if i == 0 {
		p[0] = 0x10
		if key {
			p[1] = 0x00
			copy(p[4:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
		} else {
			p[1] = 0x01
		}
	}
	p[len(p)-1] = byte(frame)
}

// publisher is the WHIP session that sends the synthetic stream.
type publisher struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	location string
	src      vp8Source

	sent   atomic.Uint64 // RTP packets written
	errors atomic.Uint64 // failed writes
	plis   atomic.Uint64 // keyframe requests (PLI, FIR) from the server
	nacks  atomic.Uint64 // NACK packets from the server
	stalls atomic.Uint64 // times the sender fell more than maxBacklog behind

	stop chan struct{}
	wg   sync.WaitGroup
}

// startPublisher connects over WHIP and starts sending once connected.
func startPublisher(ctx context.Context, api *webrtc.API, hc *http.Client, endpoint string, src vp8Source) (*publisher, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &publisher{pc: pc, src: src, stop: make(chan struct{})}
	fail := func(err error) (*publisher, error) {
		_ = pc.Close()
		return nil, err
	}
	p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "wishcast-load")
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
// its rate when the load process is briefly starved.
func (p *publisher) send() {
	defer p.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	buf := make([]byte, p.src.packetBytes)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: vp8PayloadType}}
	n := p.src.packetsPerFrame()
	fps := time.Duration(p.src.fps)
	start := time.Now()
	var seq uint16
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
		key := frame%p.src.gop == 0
		pkt.Timestamp = uint32(int64(frame) * 90000 / int64(p.src.fps))
		for i := range n {
			pkt.SequenceNumber = seq
			seq++
			pkt.Marker = i == n-1
			pkt.Payload = buf[:p.src.packetSize(i)]
			fillVP8(pkt.Payload, frame, i, key)
			// WriteRTP encrypts synchronously, so buf is free again.
			if err := p.track.WriteRTP(&pkt); err != nil {
				p.errors.Add(1)
			} else {
				p.sent.Add(1)
			}
		}
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
