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
	// videoSSRC is the publisher's video SSRC, for keyframe requests.
	videoSSRC atomic.Uint32
	hasVideo  atomic.Bool
	// readers counts the read loops; the publication closes after them.
	readers sync.WaitGroup
	// last is when the latest packet arrived (monotonic nanoseconds
	// since start; 0: none yet).
	start time.Time
	last  atomic.Int64
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
	p.readers.Wait()
	p.publication.Close()
}

// requestKeyframe sends the publisher a PLI. The hub calls it, coalesced.
func (p *publisher) requestKeyframe() {
	if !p.hasVideo.Load() {
		return
	}
	err := p.sess.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: p.videoSSRC.Load()}})
	if err != nil {
		p.sess.Log.Debug("send PLI", "err", err)
	}
}

// onTrack starts the read loop of one remote track.
func (p *publisher) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := stream.Audio
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		kind = stream.Video
	}
	track := p.publication.Track(kind)
	if track == nil {
		p.sess.Log.Warn("track of an unannounced kind ignored", "kind", kind)
		return
	}
	if kind == stream.Video {
		p.videoSSRC.Store(uint32(remote.SSRC()))
		p.hasVideo.Store(true)
		// Ask for a keyframe at once so the stream's cache fills early.
		p.requestKeyframe()
	}
	p.readers.Go(func() { p.read(remote, track) })
}

// read forwards every packet of remote to track until the track ends. Each
// packet is a fresh allocation that the hub keeps and shares read-only.
func (p *publisher) read(remote *webrtc.TrackRemote, track *stream.Track) {
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
		track.Write(pkt)
	}
}
