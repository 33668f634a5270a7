package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// Prefix is the stream namespace of cameras.
const Prefix = "devices/"

// States of a camera.
const (
	StateIdle       = "idle"
	StateConnecting = "connecting"
	StateLive       = "live"
	StateFailed     = "failed"
)

// Status is what the API and logs show of a camera.
type Status struct {
	Name        string   `json:"name"`
	State       string   `json:"state"`
	LastError   string   `json:"last_error,omitempty"`
	Video       string   `json:"video,omitempty"`
	Audio       string   `json:"audio,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	Reconnects  int      `json:"reconnects"`
	Connections int      `json:"connections"` // RTSP sessions that reached PLAY
	Viewers     int      `json:"viewers"`     // WHEP viewers watching or waiting

	LastKeyframe time.Time `json:"last_keyframe,omitzero"`
	// FirstKeyframe is how long the latest connection took from dialling
	// to the first video keyframe.
	FirstKeyframe time.Duration `json:"-"`
	// Device is the camera's entry in the catalogue.
	Device     Device `json:"-"`
	BitrateBPS int64  `json:"bitrate_bps"`
	// Codecs are the kinds and codecs of the tracks the camera sent when
	// it was last dialled ("video H264", "audio AAC"); empty before that.
	Codecs []string `json:"codecs,omitempty"`
	// EveryBrowser reports whether every current browser decodes those
	// codecs over WebRTC as they are; when not, viewers whose browsers
	// lack them get a transcode (with FFmpeg) or a 422. Unset before the
	// camera was first dialled.
	EveryBrowser *bool `json:"every_browser,omitempty"`
	// NotEveryBrowser are the described tracks whose codecs some current
	// browsers cannot decode.
	NotEveryBrowser []stream.TrackStatus `json:"-"`
}

// Puller is the on-demand source of devices/{name}: Hub.Acquire starts a
// camera, and the hub stops it after the last viewer's grace period.
type Puller struct {
	cfg     Config
	hub     *stream.Hub
	cat     *Catalog
	log     *slog.Logger
	allowed []netip.Prefix

	// mu guards all following fields.
	mu     sync.Mutex
	cams   map[string]*camera
	status map[string]*Status
	known  map[string]described // by stream name, see DescribedTracks
	// knownFile keeps known across restarts ("": not kept), see
	// KeepDescriptions.
	knownFile string
	// handedOver: always-on cameras stop like the others once every
	// Start is matched (see HandOverAlwaysOn).
	handedOver bool
	closed     bool
	started    sync.WaitGroup
}

// NewPuller returns a puller for the devices of cat publishing into hub.
func NewPuller(cfg Config, hub *stream.Hub, cat *Catalog, log *slog.Logger) (*Puller, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	allowed, err := parseNetworks(cfg.AllowedNetworks)
	if err != nil {
		return nil, err
	}
	return &Puller{cfg: cfg, hub: hub, cat: cat, log: log, allowed: allowed,
		cams: map[string]*camera{}, status: map[string]*Status{}, known: map[string]described{}}, nil
}

// Start implements stream.Source: it begins pulling the camera behind
// name ("devices/x") in the background.
func (p *Puller) Start(ctx context.Context, name string) error {
	dev, err := p.device(ctx, name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("camera puller is shut down")
	}
	if c, running := p.cams[name]; running {
		// The hub pairs every Start with a Stop; counting them keeps a
		// camera whose Stop races with a new Start running.
		c.refs++
		return nil
	}
	run, cancel := context.WithCancel(context.Background())
	c := &camera{p: p, dev: dev, name: name, cancel: cancel, done: make(chan struct{}), refs: 1,
		log: p.log.With("device", dev.Name)}
	p.cams[name] = c
	st := p.statusLocked(dev.Name)
	st.State = StateConnecting
	p.started.Add(1)
	go func() {
		defer p.started.Done()
		c.run(run)
	}()
	return nil
}

// Stop implements stream.Source. Always-on cameras keep running.
func (p *Puller) Stop(name string) {
	p.mu.Lock()
	c := p.cams[name]
	if c == nil {
		p.mu.Unlock()
		return
	}
	if !p.closed {
		if c.refs > 0 {
			c.refs--
		}
		if c.refs > 0 || c.dev.AlwaysOn && !p.handedOver {
			p.mu.Unlock()
			return
		}
	}
	delete(p.cams, name)
	p.mu.Unlock()
	c.cancel()
	<-c.done
	p.setStatus(c.dev.Name, func(s *Status) { s.State = StateIdle; s.BitrateBPS = 0 })
}

// HandOverAlwaysOn leaves the keeping of always-on cameras to the caller:
// StartAlwaysOn is not called, and an always-on camera stops like any
// other once every Start is matched by a Stop. A cluster's node does
// this, so that only the node holding a camera in the stream directory
// dials it (see cluster.Node.KeepAlwaysOn). Call it before serving.
func (p *Puller) HandOverAlwaysOn() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handedOver = true
}

// StartAlwaysOn connects every enabled always-on camera.
func (p *Puller) StartAlwaysOn() {
	list, err := p.cat.List(context.Background())
	if err != nil {
		p.log.Warn("always-on cameras: device list incomplete", "err", err)
	}
	for _, d := range list {
		if d.AlwaysOn && !d.Disabled {
			if err := p.Start(context.Background(), Prefix+d.Name); err != nil {
				p.log.Warn("always-on camera not started", "device", d.Name, "err", err)
			}
		}
	}
}

// Close stops every camera.
func (p *Puller) Close() {
	p.mu.Lock()
	p.closed = true
	names := make([]string, 0, len(p.cams))
	for n := range p.cams {
		names = append(names, n)
	}
	p.mu.Unlock()
	for _, n := range names {
		p.Stop(n)
	}
	p.started.Wait()
}

// Status returns the status of every catalogued camera (of those it
// could list, with the error, when the store fails).
func (p *Puller) Status(ctx context.Context) ([]Status, error) {
	list, err := p.cat.List(ctx)
	var out []Status
	for _, d := range list {
		p.mu.Lock()
		st := *p.statusLocked(d.Name)
		st.Warnings = append([]string(nil), st.Warnings...)
		if d, ok := p.known[Prefix+d.Name]; ok {
			st.Codecs, st.EveryBrowser, st.NotEveryBrowser = d.summary()
		}
		p.mu.Unlock()
		st.Viewers = p.hub.Viewers(Prefix + d.Name)
		st.Device = d
		out = append(out, st)
	}
	return out, err
}

func (p *Puller) device(ctx context.Context, name string) (Device, error) {
	short, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return Device{}, fmt.Errorf("%w: %q is not a device stream", ErrUnknownDevice, name)
	}
	d, err := p.cat.Get(ctx, short)
	if err != nil {
		return Device{}, err
	}
	if d.Disabled {
		return Device{}, fmt.Errorf("device %q is disabled", short)
	}
	return d, nil
}

// statusLocked returns the status entry of a device. p.mu must be held.
func (p *Puller) statusLocked(name string) *Status {
	st := p.status[name]
	if st == nil {
		st = &Status{Name: name, State: StateIdle}
		p.status[name] = st
	}
	return st
}

func (p *Puller) setStatus(name string, f func(*Status)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p.statusLocked(name))
}

// camera is one running pull of a device.
type camera struct {
	p      *Puller
	dev    Device
	name   string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	refs   int // Starts not yet matched by a Stop; guarded by Puller.mu
}

// run connects, forwards until the connection ends, and reconnects with
// exponential backoff and jitter until cancelled. A camera that fails
// before it was ever live tells the hub, so waiting viewers get their 409
// with the reason at once instead of at the on-demand timeout.
func (c *camera) run(ctx context.Context) {
	defer close(c.done)
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("camera puller panic", "panic", fmt.Sprint(v))
			c.p.hub.SourceFailed(c.name, fmt.Errorf("camera %q: internal error", c.dev.Name))
		}
	}()
	backoff := c.p.cfg.ReconnectMin
	everLive := false
	for attempt := 0; ; attempt++ {
		c.p.setStatus(c.dev.Name, func(s *Status) { s.State = StateConnecting })
		live, err := c.session(ctx)
		everLive = everLive || live
		if ctx.Err() != nil {
			return
		}
		msg := c.dev.redact(err.Error())
		c.p.setStatus(c.dev.Name, func(s *Status) {
			s.State, s.LastError, s.BitrateBPS = StateFailed, msg, 0
			if attempt > 0 || live {
				s.Reconnects++
			}
		})
		if live {
			backoff = c.p.cfg.ReconnectMin
		}
		c.log.Warn("camera disconnected", "err", msg, "retry_in", backoff)
		// Viewers waiting for the camera hear why at once rather than at
		// the on-demand timeout; those watching it stay attached (see
		// Config.OutageHold) while it is redialled.
		// They hear it in words; the raw error is for admins (the
		// device status) and the log.
		if everLive {
			c.p.hub.SourceFailed(c.name, fmt.Errorf("camera %q is reconnecting: %s", c.dev.Name, explain(err)))
		} else {
			c.p.hub.SourceFailed(c.name, fmt.Errorf("camera %q cannot be played: %s", c.dev.Name, explain(err)))
		}
		// Full jitter around the backoff so many cameras do not redial in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, c.p.cfg.ReconnectMax)
	}
}
