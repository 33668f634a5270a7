package whip

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

type webrtcCodec = webrtc.RTPCodecParameters

// publisher reads a WHIP session's tracks into the hub.
type publisher struct {
	sess        *session.Session
	publication *stream.Publication
	// ssrcs are the SSRCs of the video's encodings by simulcast layer (""
	// without simulcast), for keyframe requests: its keys are set before
	// the session starts, each value when its track arrives.
	ssrcs map[string]*atomic.Uint32
	// readers counts the read loops; the publication closes after them.
	// mu orders starting a loop (onTrack, on pion's goroutines) before
	// close's Wait, and closed refuses loops once close has begun.
	readers sync.WaitGroup
	mu      sync.Mutex
	closed  bool
	// last is when the latest packet arrived (monotonic nanoseconds
	// since start; 0: none yet).
	start time.Time
	last  atomic.Int64
	// release gives up the stream's claim (see Options.Claim).
	release func()
}

// watch ends the session of a publisher that has gone: it sent nothing
// for gone while its ICE connection stopped answering (a killed encoder,
// a pulled cable). Either alone is not enough: a one-second network blip
// is silence with ICE still up, and FFmpeg answers no ICE checks once
// connected but keeps the session alive with its media. It returns when
// the session ends.
func (p *publisher) watch(gone time.Duration) {
	t := time.NewTicker(gone / 10)
	defer t.Stop()
	for {
		select {
		case <-p.sess.Done():
			return
		case <-t.C:
		}
		last := p.last.Load()
		if last == 0 || time.Since(p.start) < time.Duration(last)+gone {
			continue
		}
		if st := p.sess.PC.ICEConnectionState(); st == webrtc.ICEConnectionStateConnected || st == webrtc.ICEConnectionStateCompleted {
			continue
		}
		p.sess.Log.Info("publisher gone: no media and no answer to ICE checks", "silent_for", time.Since(p.start)-time.Duration(last))
		p.sess.Close(session.ReasonGone)
		return
	}
}

// close ends the publication once every read loop has returned (the
// peer connection is closed by then), so no packet of this publisher can
// reach a track the hub has handed to the next one.
func (p *publisher) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.readers.Wait()
	p.publication.Close()
	if p.release != nil {
		p.release()
	}
}

// keyframeRequester returns the function the hub calls, coalesced, to
// ask the publisher for a keyframe of the video encoding layer: a PLI to
// its SSRC, once its track has arrived.
func (p *publisher) keyframeRequester(layer string) func() {
	ssrc := &atomic.Uint32{}
	p.ssrcs[layer] = ssrc
	return func() {
		s := ssrc.Load()
		if s == 0 {
			return
		}
		if err := p.sess.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: s}}); err != nil {
			p.sess.Log.Debug("send PLI", "err", err)
		}
	}
}

// onTrack starts the read loop of one remote track (for simulcast, one
// per encoding, told apart by its rid).
func (p *publisher) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := stream.Audio
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		kind = stream.Video
	}
	track := p.publication.Track(kind)
	if kind == stream.Video && remote.RID() != "" {
		track = p.publication.Layer(remote.RID())
	}
	if track == nil {
		p.sess.Log.Warn("track the offer did not announce ignored", "kind", kind, "rid", remote.RID())
		return
	}
	var size sizer
	if kind == stream.Video {
		if ssrc := p.ssrcs[track.Layer()]; ssrc != nil {
			ssrc.Store(uint32(remote.SSRC()))
		}
		size = sizerFor(track.Codec().MimeType)
		// Ask for a keyframe at once so the stream's cache fills early.
		track.RequestKeyframe()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.readers.Go(func() { p.read(remote, track, size) })
}

// read forwards every packet of remote to track until the track ends. Each
// packet is a fresh allocation that the hub keeps and shares read-only.
// size, if not nil, reads the picture size from the packets carrying it.
func (p *publisher) read(remote *webrtc.TrackRemote, track *stream.Track, size sizer) {
	first := true
	for {
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.sess.Log.Debug("publisher track ended", "err", err)
			}
			return
		}
		if first {
			first = false
			p.sess.MediaFlowing()
		}
		p.last.Store(int64(time.Since(p.start)))
		if size != nil {
			if w, h, ok := size(pkt.Payload); ok {
				track.SetSize(w, h)
			}
		}
		track.Write(pkt)
	}
}
