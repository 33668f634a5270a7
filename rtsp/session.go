package rtsp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/wishcast/wishcast/stream"
)

// session is one connection to a camera: DESCRIBE, SETUP of the tracks
// wishcast can forward, PLAY, and forwarding until the connection ends.
type session struct {
	c      *camera
	client *gortsplib.Client

	video, audio *forwarder

	bytes atomic.Int64
	began time.Time   // when the connection was dialled
	keyed atomic.Bool // a video keyframe arrived

	// mu guards pub.
	mu  sync.Mutex
	pub *stream.Publication
}

// session runs one connection. live reports whether it got as far as
// publishing media.
func (c *camera) session(ctx context.Context) (live bool, err error) {
	began := time.Now()
	client, u, err := c.p.newClient(c.dev)
	if err != nil {
		return false, err
	}
	s := &session{c: c, client: client, began: began}
	// The client's callbacks must be over before the publication closes:
	// the hub may hand its tracks to the next connection.
	defer func() {
		client.Close()
		s.unpublish(ctx.Err() == nil)
	}()
	stop := context.AfterFunc(ctx, client.Close)
	defer stop()

	desc, _, err := client.Describe(u)
	if err != nil {
		return false, fmt.Errorf("DESCRIBE: %w", err)
	}
	if err := s.setup(desc); err != nil {
		return false, err
	}
	if _, err := client.Play(nil); err != nil {
		return false, fmt.Errorf("PLAY: %w", err)
	}
	c.p.setStatus(c.dev.Name, func(st *Status) { st.Connections++ })
	c.log.Info("camera playing", "url", c.dev.RedactedURL(), "video", s.describe(s.video), "audio", s.describe(s.audio))
	done := make(chan error, 1)
	go func() { done <- client.Wait() }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return s.published(), ctx.Err()
			}
			if err == nil {
				err = errors.New("connection closed")
			}
			return s.published(), err
		case now := <-tick.C:
			n := s.bytes.Swap(0)
			bps := int64(float64(n*8) / now.Sub(last).Seconds())
			last = now
			live := s.published()
			c.p.setStatus(c.dev.Name, func(st *Status) {
				st.BitrateBPS = bps
				if live {
					st.State, st.LastError = StateLive, ""
				}
			})
		}
	}
}

// setup chooses one video and one audio format, sets them up and prepares
// their forwarders. Formats browsers cannot play are reported, not fatal,
// as long as something is left.
func (s *session) setup(desc *description.Session) error {
	chosen, warnings := choose(desc, s)
	for _, c := range chosen {
		if _, err := s.client.Setup(desc.BaseURL, c.media, 0, 0); err != nil {
			return fmt.Errorf("SETUP %s: %w", c.format.Codec(), err)
		}
		if c.fw.info.Kind == stream.Video {
			s.video = c.fw
		} else {
			s.audio = c.fw
		}
		s.client.OnPacketRTP(c.media, c.format, c.fw.packet)
	}
	s.c.p.setStatus(s.c.dev.Name, func(st *Status) {
		st.Warnings = warnings
		st.Video, st.Audio = s.describe(s.video), s.describe(s.audio)
	})
	for _, w := range warnings {
		s.c.log.Warn("camera track not forwarded", "detail", w)
	}
	if s.video == nil && s.audio == nil {
		return fmt.Errorf("%w (%s)", errNothingPlayable, strings.Join(warnings, "; "))
	}
	return nil
}

// newClient returns a started RTSP client for d, dialling through the
// network guard, and d's parsed URL.
func (p *Puller) newClient(d Device) (*gortsplib.Client, *base.URL, error) {
	u, err := base.ParseURL(d.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("parse camera URL: %w", err)
	}
	std, _ := url.Parse(d.URL)
	g := &guard{host: std.Hostname(), hasCreds: d.hasCredentials(), allowed: p.allowed,
		dialer: net.Dialer{Timeout: p.cfg.Timeout}}
	client := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		ReadTimeout:  p.cfg.Timeout,
		WriteTimeout: p.cfg.Timeout,
		DialContext:  g.DialContext,
		UserAgent:    "wishcast",
	}
	switch d.Transport {
	case TransportTCP:
		t := gortsplib.TransportTCP
		client.Transport = &t
	case TransportUDP:
		t := gortsplib.TransportUDP
		client.Transport = &t
	}
	if err := client.Start2(); err != nil {
		return nil, nil, fmt.Errorf("start RTSP client: %w", err)
	}
	return client, u, nil
}

// choice is a format of a camera that wishcast forwards.
type choice struct {
	media  *description.Media
	format format.Format
	fw     *forwarder
}

// choose picks, in the order of the camera's description, the first
// video and the first audio format wishcast can forward, and says why the
// formats browsers cannot play are left out. s is the session the
// forwarders write to (nil for a probe).
func choose(desc *description.Session, s *session) (chosen []choice, warnings []string) {
	var haveVideo, haveAudio bool
	for _, m := range desc.Medias {
		if m.IsBackChannel {
			continue
		}
		for _, f := range m.Formats {
			fw, why := newForwarder(s, f)
			if fw == nil {
				warnings = append(warnings, fmt.Sprintf("%s track %s left out: %s", m.Type, f.Codec(), why))
				continue
			}
			have := &haveAudio
			if fw.info.Kind == stream.Video {
				have = &haveVideo
			}
			if *have {
				continue
			}
			*have = true
			chosen = append(chosen, choice{media: m, format: f, fw: fw})
			break
		}
	}
	return chosen, warnings
}

func (s *session) describe(f *forwarder) string {
	if f == nil {
		return ""
	}
	return f.codecName
}

// track returns the hub track for kind, publishing the stream once every
// chosen forwarder knows its codec parameters (H.264 needs its SPS).
func (s *session) track(kind stream.Kind) *stream.Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pub == nil {
		var infos []stream.TrackInfo
		for _, f := range []*forwarder{s.audio, s.video} {
			if f == nil {
				continue
			}
			if !f.ready() {
				return nil
			}
			infos = append(infos, f.info)
		}
		pub, err := s.c.p.hub.Publish(s.c.name, infos)
		if err != nil {
			s.c.log.Warn("publish camera", "err", err)
			return nil
		}
		s.pub = pub
		s.c.p.remember(s.c.name, s.c.dev, infos)
		s.c.p.setStatus(s.c.dev.Name, func(st *Status) { st.State, st.LastError = StateLive, "" })
	}
	return s.pub.Track(kind)
}

func (s *session) published() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub != nil
}

// unpublish closes the session's publication. A camera that dropped
// (dropped) is redialled: its viewers stay attached for OutageHold, and
// the next connection continues their tracks.
func (s *session) unpublish(dropped bool) {
	s.mu.Lock()
	pub := s.pub
	s.pub = nil
	s.mu.Unlock()
	switch {
	case pub == nil:
	case dropped:
		pub.CloseHolding(s.c.p.cfg.OutageHold)
	default:
		pub.Close()
	}
}

// write sends one packet to the hub.
func (s *session) write(kind stream.Kind, p *rtp.Packet) {
	if t := s.track(kind); t != nil {
		s.bytes.Add(int64(len(p.Payload)))
		t.Write(p)
	}
}
