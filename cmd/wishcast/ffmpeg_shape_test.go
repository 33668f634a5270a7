package main

import (
	"path"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// Connect-time bounds for an FFmpeg-shaped publisher, whose first DTLS
// packet from the server is lost. With pion's default 1 s retransmission
// interval neither can hold.
const (
	ffmpegMaxConnect = 900 * time.Millisecond
	ffmpegMaxResend  = 700 * time.Millisecond
)

// FFmpeg 8's WHIP muxer publishes audio and video, and video
// alone (a BUNDLE group naming a mid it does not have), and connects
// without waiting a second for the server's ClientHello to be sent again;
// a viewer gets its frames, starting at a keyframe.
func TestFFmpegWHIPPublishes(t *testing.T) {
	for _, c := range []struct {
		name  string
		audio bool
	}{{"audio and video", true}, {"video only", false}} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t)
			p := startFFmpegPublisher(t, ts, "live/ffmpeg", c.audio)
			drops, resent := p.relay.dtlsDrops()
			t.Logf("connected %s after the POST; the server sent DTLS again %s after the dropped packet", p.connect.Round(time.Millisecond), resent.Round(time.Millisecond))
			if drops != 1 || resent == 0 {
				t.Fatalf("relay dropped %d DTLS packets, resent after %s; the test wants the first one lost and sent again", drops, resent)
			}
			if resent > ffmpegMaxResend {
				t.Errorf("the server sent its first DTLS flight again after %s; want at most %s", resent, ffmpegMaxResend)
			}
			if p.connect > ffmpegMaxConnect {
				t.Errorf("FFmpeg-shaped publisher connected after %s; want at most %s", p.connect, ffmpegMaxConnect)
			}

			v := startViewer(t, ts, "live/ffmpeg")
			first := next(t, v.video, 10*time.Second)
			if !stream.KeyframeStart(webrtc.MimeTypeH264, first.Payload) {
				t.Errorf("the viewer's first video packet is NAL type %d, not a keyframe start", first.Payload[0]&0x1f)
			}
			for range 50 {
				next(t, v.video, 5*time.Second)
			}
			if c.audio {
				next(t, v.audio, 5*time.Second)
			}
			if r := p.sess.CloseReason(); r != "" {
				t.Errorf("publisher session ended (%s)", r)
			}
		})
	}
}

// a publisher that vanishes (killed, cable pulled: nothing more
// arrives, nothing is answered) ends within about PublisherGone of its
// last packet, and its viewers are told soon after.
func TestFFmpegWHIPVanishes(t *testing.T) {
	const (
		orphan = 300 * time.Millisecond
		bound  = 9 * time.Second
	)
	ts := newTestServer(t, func(c *Config) { c.Stream.OrphanTimeout = orphan })
	gone := ts.sessions.Config().PublisherGone
	p := startFFmpegPublisher(t, ts, "live/vanish", true)
	v := startViewer(t, ts, "live/vanish")
	next(t, v.video, 10*time.Second)
	vs := ts.sessions.Get(path.Base(v.location))
	if vs == nil {
		t.Fatalf("no viewer session at %q", v.location)
	}

	p.relay.stop()
	select {
	case <-p.sess.Done():
	case <-time.After(2 * bound):
		t.Fatalf("publisher session still running %s after it vanished (ICE %s)", 2*bound, p.sess.PC.ICEConnectionState())
	}
	pubEnded := time.Since(p.relay.lastToServer())
	select {
	case <-vs.Done():
	case <-time.After(orphan + 5*time.Second):
		t.Fatal("viewer session still running after the publisher's ended")
	}
	viewEnded := time.Since(p.relay.lastToServer())
	t.Logf("last packet to the server, then: publisher session ended after %s (%s), viewer session after %s (%s)",
		pubEnded.Round(time.Millisecond), p.sess.CloseReason(), viewEnded.Round(time.Millisecond), vs.CloseReason())

	if r := p.sess.CloseReason(); r != session.ReasonGone {
		t.Errorf("publisher session ended with %q; want %q", r, session.ReasonGone)
	}
	if pubEnded < gone-50*time.Millisecond || pubEnded > bound {
		t.Errorf("publisher session ended %s after its last packet; want between %s and %s", pubEnded, gone, bound)
	}
	if r := vs.CloseReason(); r != session.ReasonServer {
		t.Errorf("viewer session ended with %q; want %q", r, session.ReasonServer)
	}
	if viewEnded > bound {
		t.Errorf("viewer session ended %s after the publisher's last packet; want at most %s", viewEnded, bound)
	}
}

// a publisher whose packets are all lost for a second (a
// network blip) keeps its session, and its stream goes on. The first
// case keeps publishing past PublisherGone with the server's ICE checks
// unanswered, as FFmpeg leaves them: its media alone keeps it alive. In
// the second the blip is longer than PublisherGone: silence without ICE
// having stopped answering ends nothing.
func TestFFmpegWHIPSurvivesPause(t *testing.T) {
	const pause = time.Second
	for _, c := range []struct {
		name string
		gone time.Duration // PublisherGone; 0: the default
	}{{"default settings", 0}, {"pause longer than PublisherGone", 700 * time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, func(cfg *Config) {
				if c.gone > 0 {
					cfg.WebRTC.PublisherGone = c.gone
				}
			})
			gone := ts.sessions.Config().PublisherGone
			p := startFFmpegPublisher(t, ts, "live/blip", true)
			v := startViewer(t, ts, "live/blip")
			next(t, v.video, 10*time.Second)

			p.relay.pause(pause)
			time.Sleep(pause) // the blip
			for len(v.video) > 0 {
				<-v.video
			}
			// Watch the stream go on for longer than PublisherGone.
			for end := time.Now().Add(gone + 500*time.Millisecond); time.Now().Before(end); {
				select {
				case <-v.video:
				case <-p.sess.Done():
					t.Fatalf("publisher session ended (%s) after a %s pause", p.sess.CloseReason(), pause)
				case <-time.After(2 * time.Second):
					t.Fatalf("no video for 2s after a %s pause (publisher ICE %s)", pause, p.sess.PC.ICEConnectionState())
				}
			}
			// Seconds past pion's 2 s keepalive: the server has sent checks.
			t.Logf("the relay dropped %d STUN packets once connected", p.relay.quieted.Load())
			if c.gone == 0 && p.relay.quieted.Load() == 0 {
				t.Error("the relay dropped no STUN: the server's ICE checks were answered")
			}
			if ts.sessions.Get(p.sess.ID) != p.sess {
				t.Fatal("the publisher's session was replaced")
			}
			if st := p.sess.PC.ICEConnectionState(); st != webrtc.ICEConnectionStateConnected && st != webrtc.ICEConnectionStateCompleted {
				t.Errorf("server's ICE for the publisher is %s; want connected", st)
			}
		})
	}
}
