package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// viewer is one WHEP session receiving the video track. Its reader parses
// nothing but the RTP sequence number and the first bytes of the payload
// (to count keyframes), into one reused buffer.
type viewer struct {
	pc       *webrtc.PeerConnection
	location string
	watch    *connectionWatch
	isKey    func(rtpPacket []byte) bool // does the packet start a keyframe

	startAt  int64        // unix ns when the viewer started (before its offer)
	answerAt int64        // unix ns when the answer was applied
	upAt     atomic.Int64 // unix ns when the connection came up
	firstPkt atomic.Int64 // unix ns of the first RTP packet
	firstKey atomic.Int64 // unix ns of the first keyframe start

	recv atomic.Uint64 // RTP packets read
	gaps atomic.Uint64 // packets skipped over by the sequence number
	late atomic.Uint64 // packets older than the newest seen (reordered or repaired)
	keys atomic.Uint64 // keyframe starts read

	mu     sync.Mutex // guards closed against new readers starting
	closed bool
	wg     sync.WaitGroup
}

// viewerCounts is a snapshot of a viewer's counters.
type viewerCounts struct{ recv, gaps, late, keys uint64 }

func (v *viewer) counts() viewerCounts {
	return viewerCounts{recv: v.recv.Load(), gaps: v.gaps.Load(), late: v.late.Load(), keys: v.keys.Load()}
}

// startViewer posts a video-only recvonly offer to endpoint. It returns
// once the answer is applied (v.watch tells when the connection is up);
// on error, v (if not nil) still needs close. isKey tells the packets
// that start a keyframe (isKeyStart for VP8, isH264KeyStart for H.264).
func startViewer(ctx context.Context, api *webrtc.API, hc *http.Client, endpoint string, isKey func([]byte) bool) (*viewer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &viewer{pc: pc, isKey: isKey, startAt: time.Now().UnixNano()}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return v, err
	}
	v.watch = watchConnection(pc, func() { v.upAt.Store(time.Now().UnixNano()) })
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		v.mu.Lock()
		if v.closed {
			v.mu.Unlock()
			return
		}
		v.wg.Add(2)
		v.mu.Unlock()
		go v.drainRTCP(r)
		v.read(t) // OnTrack runs in its own goroutine
	})
	v.location, err = exchange(ctx, hc, pc, endpoint)
	if err != nil {
		return v, fmt.Errorf("viewer: %w", err)
	}
	v.answerAt = time.Now().UnixNano()
	return v, nil
}

// read counts the track's packets until the connection closes.
func (v *viewer) read(t *webrtc.TrackRemote) {
	defer v.wg.Done()
	buf := make([]byte, 1500)
	var last uint16
	started := false
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		seq := uint16(buf[2])<<8 | uint16(buf[3])
		if !started {
			started = true
			last = seq
			v.firstPkt.Store(time.Now().UnixNano())
		} else {
			switch d := seq - last; {
			case d == 0:
				v.late.Add(1) // duplicate
			case d < 0x8000:
				if d > 1 {
					v.gaps.Add(uint64(d - 1))
				}
				last = seq
			default:
				v.late.Add(1)
			}
		}
		v.recv.Add(1)
		if v.isKey(buf[:n]) {
			if v.keys.Add(1) == 1 {
				v.firstKey.Store(time.Now().UnixNano())
			}
		}
	}
}

// isKeyStart reports whether the RTP packet p starts a VP8 keyframe.
func isKeyStart(p []byte) bool {
	off, ok := rtpPayloadOffset(p)
	if !ok || len(p) < off+2 {
		return false
	}
	d := p[off]
	if d&0x10 == 0 || d&0x07 != 0 { // not S=1 with partition 0
		return false
	}
	off++
	if d&0x80 != 0 { // extended descriptor
		if len(p) < off+1 {
			return false
		}
		x := p[off]
		off++
		if x&0x80 != 0 { // PictureID
			if len(p) > off && p[off]&0x80 != 0 {
				off++
			}
			off++
		}
		if x&0x40 != 0 { // TL0PICIDX
			off++
		}
		if x&0x30 != 0 { // TID/KEYIDX
			off++
		}
	}
	return len(p) > off && p[off]&0x01 == 0
}

// drainRTCP reads (and drops) the RTCP for the receiver, so that pion's
// buffer for it never fills.
func (v *viewer) drainRTCP(r *webrtc.RTPReceiver) {
	defer v.wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}

// close deletes the session (if it was created) and closes the connection.
func (v *viewer) close(ctx context.Context, hc *http.Client) error {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	var err error
	if v.location != "" {
		err = deleteSession(ctx, hc, v.location)
	}
	_ = v.pc.Close()
	v.wg.Wait()
	return err
}

// srtpProfile is the SRTP protection profile negotiated on pc's transport.
func srtpProfile(pc *webrtc.PeerConnection) string {
	for _, st := range pc.GetStats() {
		if t, ok := st.(webrtc.TransportStats); ok && t.SRTPCipher != "" {
			return t.SRTPCipher
		}
	}
	return ""
}
