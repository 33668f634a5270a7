package democam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
)

// Defaults of Options.
const (
	DefaultAddr = "127.0.0.1:8554"
	DefaultPath = "demo"
)

// defaultIdleTimeout is how long the clip keeps being paced after the last
// reader of the demo path has gone.
const defaultIdleTimeout = 10 * time.Second

// maxRelays bounds the number of paths being published at once.
const maxRelays = 32

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("democam: server closed")

// ErrStarted is returned by Start when the server is already running.
var ErrStarted = errors.New("democam: server already started")

// Options configures a Server. The zero value is usable.
type Options struct {
	// Addr is the TCP address of RTSP, DefaultAddr if empty. A port of 0
	// picks a free one; Addr and URL report it after Start.
	Addr string
	// Path is the path of the demo clip, DefaultPath if empty. Leading and
	// trailing slashes are ignored.
	Path string
	// Log receives the server's logs; nil discards them.
	Log *slog.Logger
	// UDP also offers the RTP/UDP transport, on a free pair of consecutive
	// ports (even RTP, odd RTCP) on the host of Addr. TCP (interleaved) is
	// always offered.
	UDP bool

	// clipFrames, when above zero, loops only the first clipFrames video
	// frames of the clip (for tests of the loop boundary).
	clipFrames int
	// idleTimeout overrides defaultIdleTimeout (for tests).
	idleTimeout time.Duration
}

// Server is the demo camera: an RTSP server with the demo clip on one path
// and a relay on every other. Create it with New, then Start; Close stops
// it and every goroutine it started.
type Server struct {
	opts Options
	log  *slog.Logger
	path string // demo path, without slashes
	clip *clip

	// Set by Start under mu and never changed after: the callbacks and
	// the player goroutine that read them all start after Start.
	rtsp   *gortsplib.Server
	demo   *gortsplib.ServerStream
	player *player
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the player goroutine
	errs   counters

	// mu guards all following fields.
	mu        sync.Mutex
	addr      string // the real RTSP address once started
	started   bool
	closed    bool
	playing   bool // the player goroutine runs
	readers   map[*gortsplib.ServerSession]struct{}
	idleSince time.Time // when the last demo reader left
	relays    map[string]*relay
}

// New checks opts and loads the embedded clip. The server does not listen
// until Start.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
		return nil, fmt.Errorf("democam: address %q: %w", opts.Addr, err)
	}
	path := cleanPath(opts.Path)
	if path == "" {
		path = DefaultPath
	}
	if opts.idleTimeout <= 0 {
		opts.idleTimeout = defaultIdleTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := loadClip(clipH264, clipOpus, opts.clipFrames)
	if err != nil {
		return nil, fmt.Errorf("democam: embedded clip: %w", err)
	}
	return &Server{
		opts:    opts,
		log:     log.With("component", "democam"),
		path:    path,
		clip:    c,
		addr:    opts.Addr,
		readers: make(map[*gortsplib.ServerSession]struct{}),
		relays:  make(map[string]*relay),
	}, nil
}

// Start listens and serves RTSP until Close.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock() // handlers wait for the demo stream on s.mu
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return ErrStarted
	}

	ln, err := net.Listen(tcpNetwork(s.opts.Addr), s.opts.Addr)
	if err != nil {
		return fmt.Errorf("democam: listen: %w", err)
	}
	s.rtsp = &gortsplib.Server{
		Handler:     &handler{s: s},
		RTSPAddress: ln.Addr().String(),
		Listen: func(string, string) (net.Listener, error) {
			return ln, nil
		},
	}
	var udp *udpPair
	if s.opts.UDP {
		host, _, _ := net.SplitHostPort(s.opts.Addr)
		udp, err = listenUDPPair(host)
		if err != nil {
			ln.Close()
			return fmt.Errorf("democam: udp: %w", err)
		}
		s.rtsp.UDPRTPAddress = udp.rtpAddr
		s.rtsp.UDPRTCPAddress = udp.rtcpAddr
		s.rtsp.ListenPacket = udp.listenPacket
	}
	if err := s.rtsp.Start(); err != nil {
		ln.Close()
		if udp != nil {
			udp.close()
		}
		return fmt.Errorf("democam: start: %w", err)
	}

	s.demo = &gortsplib.ServerStream{Server: s.rtsp, Desc: demoDescription(s.clip)}
	if err := s.demo.Initialize(); err != nil {
		s.rtsp.Close()
		return fmt.Errorf("democam: demo stream: %w", err)
	}
	s.player, err = newPlayer(s.clip, s.demo.Desc, s.demo)
	if err != nil {
		s.demo.Close()
		s.rtsp.Close()
		return fmt.Errorf("democam: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.addr = ln.Addr().String()
	s.started = true
	s.log.Info("demo camera listening", "url", s.urlLocked())
	return nil
}

// Close stops the server: it ends every session, the clip player and the
// relays, and waits for their goroutines. It is safe to call more than
// once, and before Start.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	relays := s.relays
	s.relays = nil
	s.mu.Unlock()
	if !started {
		return
	}

	s.cancel()
	s.wg.Wait()
	for _, r := range relays {
		r.close()
	}
	s.demo.Close()
	s.rtsp.Close() // joins gortsplib's goroutines, running OnSessionClose
	s.log.Info("demo camera closed")
}

// Addr returns the RTSP address: the listener's real one (with the port
// picked for ":0") once started, Options.Addr before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Readers counts the RTSP sessions playing the demo clip now.
func (s *Server) Readers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.readers)
}

// URL returns the RTSP URL of the demo clip, like
// rtsp://127.0.0.1:8554/demo. An unspecified listening host (":8554",
// "0.0.0.0", "[::]") is reported as 127.0.0.1.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

// PathURL returns the RTSP URL of any path of the server, for instance a
// relay path to push to with FFmpeg.
func (s *Server) PathURL(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "rtsp://" + dialAddr(s.addr) + "/" + cleanPath(path)
}

func (s *Server) urlLocked() string {
	return "rtsp://" + dialAddr(s.addr) + "/" + s.path
}

// dialAddr turns a listening address into one a local client can dial.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// tcpNetwork keeps "0.0.0.0" on IPv4, as gortsplib does.
func tcpNetwork(addr string) string {
	if host, _, _ := net.SplitHostPort(addr); host == "0.0.0.0" {
		return "tcp4"
	}
	return "tcp"
}

// cleanPath removes leading and trailing slashes from an RTSP path.
func cleanPath(p string) string {
	return strings.Trim(p, "/")
}

// demoDescription is the SDP of the demo clip: H.264 (packetization mode
// 1, RFC 6184) with sprop-parameter-sets, and Opus (RFC 7587).
func demoDescription(c *clip) *description.Session {
	return &description.Session{
		Title: "wishcast demo",
		Medias: []*description.Media{{
			Type: description.MediaTypeVideo,
			Formats: []format.Format{&format.H264{
				PayloadTyp:        96,
				SPS:               c.sps,
				PPS:               c.pps,
				PacketizationMode: 1,
			}},
		}, {
			Type: description.MediaTypeAudio,
			Formats: []format.Format{&format.Opus{
				PayloadTyp:   111,
				ChannelCount: c.channels,
			}},
		}},
	}
}
