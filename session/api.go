package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// API is the one pion API of the process with the sockets it owns.
type API struct {
	*webrtc.API
	// Outbound makes the peer connections the server opens itself (a
	// node pulling a stream from another node): the same codecs and
	// settings, but a UDP socket of their own per connection rather than
	// the ICE port. pion's UDP mux routes packets by the remote address,
	// so two nodes pulling from each other through their ICE ports would
	// meet on one address pair and one of the two sessions would get the
	// other's packets.
	Outbound *webrtc.API
	// viewer makes the peer connections of sessions that only send
	// (Reservation.ViewOnly): the same codecs and settings, fewer
	// interceptors.
	viewer *webrtc.API
	udpMux ice.UDPMux
	udp    *udpSockets
	tcpMux ice.TCPMux
	// UDPAddrs and TCPAddrs are where ICE listens, for the start-up log.
	UDPAddrs []net.Addr
	TCPAddrs []net.Addr
	// retransmits counts packets sent again in answer to NACKs, and
	// those refused.
	retransmits RetransmitCounts
	// reports sends the sender reports of viewers' peer connections.
	reports *senderReports
	// certs is the DTLS certificate of the peer connections on the ICE
	// ports.
	certs *dtlsCerts
	bweState
}

// reportInterval is how often a sender report goes out per stream sent, as
// pion's report interceptor does.
const reportInterval = time.Second

// dtlsRetransmit is the first DTLS retransmission interval; pion doubles
// it after each retransmission (RFC 6347 §4.2.4.1).
const dtlsRetransmit = 200 * time.Millisecond

// closeWait bounds how long Close waits for pion's muxes, which wait for
// their connections' own timeouts.
const closeWait = 2 * time.Second

// listenTCP opens the ICE-TCP port: on each of cfg.HostIPs, or on all
// addresses. Connections that send no STUN within a few seconds are
// dropped, so idle sockets cannot pile up (or hold up shutdown).
func (a *API) listenTCP(cfg Config, lf *LoggerFactory) error {
	hosts := cfg.HostIPs
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	var muxes []ice.TCPMux
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(cfg.TCPPort)))
		if err != nil {
			for _, m := range muxes {
				_ = m.Close()
			}
			return fmt.Errorf("listen ICE TCP port %d: %w", cfg.TCPPort, err)
		}
		a.TCPAddrs = append(a.TCPAddrs, ln.Addr())
		muxes = append(muxes, ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:                     ln,
			Logger:                       lf.NewLogger("tcpmux"),
			ReadBufferSize:               32,
			WriteBufferSize:              4 << 20,
			FirstStunBindTimeout:         3 * time.Second,
			AliveDurationForConnFromStun: cfg.HandshakeTimeout,
		}))
	}
	if len(muxes) == 1 {
		a.tcpMux = muxes[0]
	} else {
		a.tcpMux = ice.NewMultiTCPMuxDefault(muxes...)
	}
	return nil
}

// Close releases the ICE sockets. It waits at most a couple of seconds for
// pion's muxes to wind down their connections.
func (a *API) Close() error {
	done := make(chan error, 1)
	go func() {
		var errs []error
		if a.udpMux != nil {
			errs = append(errs, a.udpMux.Close())
		}
		if a.tcpMux != nil {
			errs = append(errs, a.tcpMux.Close())
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWait):
		return fmt.Errorf("ICE sockets still closing after %s", closeWait)
	}
}

// ReceiveDrops returns how many datagrams the kernel dropped on the ICE
// UDP sockets because their receive buffers were full (Linux; 0
// elsewhere).
func (a *API) ReceiveDrops() uint64 { return a.udp.drops() }

// ReceiveDropsByQueue is ReceiveDrops by receive queue: QueueMedia (the
// socket that receives publishers' RTP) and QueueControl (all else) where
// the kernel steers the port's datagrams (steer.go), QueueShared where the
// port is one socket.
func (a *API) ReceiveDropsByQueue() map[string]uint64 { return a.udp.dropsByQueue() }

// Batcher returns what groups the ICE UDP sockets' sends: the hub opens a
// batch around each packet's fan-out (stream.Hub.SetBatcher).
func (a *API) Batcher() *SendBatcher { return a.udp.batch }

// NewAPI builds the pion API every session uses: all codecs wishcast
// forwards, NACK/RTCP-report/TWCC interceptors, one UDP port and one TCP port
// for ICE, and the NAT and filtering settings of cfg.
func NewAPI(cfg Config, log *slog.Logger) (*API, error) {
	cfg = cfg.withDefaults()
	a := &API{}
	lf := NewLoggerFactory(log)
	a.reports = newSenderReports(reportInterval, lf)
	a.certs = newDTLSCerts(certLife)
	m, ir, err := a.media(cfg, lf)
	if err != nil {
		return nil, err
	}
	// Only viewers estimate bandwidth (Reservation.EstimateBandwidth).
	bm, bir, err := a.viewerMedia(cfg, lf)
	if err != nil {
		return nil, err
	}
	vm, vir, err := a.viewerMedia(cfg, lf)
	if err != nil {
		return nil, err
	}
	if err := a.estimating(bir); err != nil {
		return nil, err
	}

	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	se.SetLite(cfg.Lite)
	if len(cfg.NAT1To1IPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("nat 1:1 addresses: %w", err)
		}
	}
	ipFilter, err := hostIPFilter(cfg)
	if err != nil {
		return nil, err
	}
	se.SetIPFilter(ipFilter)
	se.SetRemoteIPFilter(remoteIPAllowed)
	// Give up on silent peers well before pion's 30 s default; the DTLS
	// handshake gets the same bound (conformance H6, H13). Disconnected
	// after 4 s without a packet is what lets a vanished publisher end
	// within PublisherGone (see whip), not a cause to end a session: that
	// takes 10 s more, or the publisher's own silence.
	se.SetICETimeouts(4*time.Second, 10*time.Second, 2*time.Second)
	// A DTLS flight is sent again after 200 ms, doubling each time, not
	// after pion's 1 s: FFmpeg's WHIP muxer (setup:passive, so the server
	// is the DTLS client) misses the first ClientHello, and every FFmpeg
	// publisher waited a whole second in the handshake.
	se.SetDTLSRetransmissionInterval(dtlsRetransmit)
	se.SetDTLSConnectContextMaker(func() (context.Context, func()) {
		return context.WithTimeout(context.Background(), cfg.HandshakeTimeout)
	})
	// Multicast DNS would announce .local names that a server cannot use.
	// A browser's own .local host candidates (Firefox's and Chromium's
	// default) are not resolved either: the browser's checks to the
	// server's candidates reach it, and the server learns the browser's
	// address from them (peer-reflexive, RFC 8445 §7.2.5.3.1).
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// SRTP replay protection stays on (conformance H14). AES-GCM-128 first:
	// the cheapest to send with on CPUs with AES instructions (see
	// BenchmarkSRTPProfiles: about 0.5 µs per 1200-byte packet against
	// GCM-256's 0.55 and AES-CM/HMAC-SHA1's 2.6). The DTLS server picks:
	// the server when a peer offers setup:active, taking the first of
	// this list that the peer offers; but a browser offers actpass, the
	// server answers active, and the browser picks by its own order
	// (GCM-256 first in Chromium), which is also what wishcast-load does
	// unless told -srtp.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)

	om, oir, err := a.media(cfg, lf)
	if err != nil {
		return nil, err
	}
	out := se // before the ports: its own socket per connection
	out.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	a.Outbound = webrtc.NewAPI(webrtc.WithMediaEngine(om), webrtc.WithInterceptorRegistry(oir), webrtc.WithSettingEngine(out))

	if a.udp, err = newUDPSockets(cfg.UDPReadBuffer, log); err != nil {
		return nil, fmt.Errorf("ICE UDP network: %w", err)
	}
	opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithIPFilter(ipFilter), ice.UDPMuxFromPortWithLogger(lf.NewLogger("udpmux")),
		ice.UDPMuxFromPortWithNet(a.udp)}
	if cfg.Loopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	udp, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
	if err != nil {
		return nil, fmt.Errorf("listen ICE UDP port %d: %w", cfg.UDPPort, err)
	}
	a.udpMux = udp
	a.UDPAddrs = udp.GetListenAddresses()
	se.SetICEUDPMux(udp)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPPort >= 0 {
		if err := a.listenTCP(cfg, lf); err != nil {
			_ = a.Close()
			return nil, err
		}
		se.SetICETCPMux(a.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	// One view of the host's interfaces for every ICE agent on the ICE
	// ports, rather than a netlink dump kept by each (about 7 KB per
	// session). The UDP mux announces the addresses it found at start
	// anyway; the TCP candidates now come from the same start-time list.
	n, err := stdnet.NewNet()
	if err != nil {
		_ = a.Close()
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	se.SetNet(fixedNet{n})
	a.API = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	a.viewer = webrtc.NewAPI(webrtc.WithMediaEngine(vm), webrtc.WithInterceptorRegistry(vir), webrtc.WithSettingEngine(se))
	a.bwe = webrtc.NewAPI(webrtc.WithMediaEngine(bm), webrtc.WithInterceptorRegistry(bir), webrtc.WithSettingEngine(se))
	return a, nil
}

// media returns the codecs and interceptors every session has: all the
// codecs wishcast forwards, NACK (generator and responder), RTCP reports,
// the simulcast header extensions and TWCC feedback for what it receives.
func (a *API) media(cfg Config, lf *LoggerFactory) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	return Interceptors(cfg, lf, &a.retransmits)
}

// viewerMedia is media for peer connections that only send (viewers): the
// same codecs and SDP, without the interceptors of received media, and
// with the API's shared sender reports.
func (a *API) viewerMedia(cfg Config, lf *LoggerFactory) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	return interceptors(cfg, lf, &a.retransmits, a.reports)
}

// ViewerInterceptors is Interceptors for a peer connection that only
// sends, as a viewer's: it lets a measurement build a viewer's send path
// without a peer connection.
func ViewerInterceptors(cfg Config, lf *LoggerFactory, retransmits *RetransmitCounts) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	if lf == nil {
		lf = NewLoggerFactory(nil)
	}
	return interceptors(cfg, lf, retransmits, newSenderReports(reportInterval, lf))
}

// Interceptors returns the codecs and interceptors every session of the server
// has (see NewAPI), counting retransmissions in retransmits; lf may be
// nil. It lets a measurement build the server's own send path without a
// peer connection.
func Interceptors(cfg Config, lf *LoggerFactory, retransmits *RetransmitCounts) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	return interceptors(cfg, lf, retransmits, nil)
}

// interceptors is Interceptors; with reports (which then sends the sender
// reports), the registry lacks what only a peer connection that receives
// media needs (NACK generator, receiver reports, TWCC feedback), for
// viewers, to whom the server only sends: each is a goroutine and state
// per peer connection. The codecs, feedback and header extensions, so the
// SDP, are the same either way.
func interceptors(cfg Config, lf *LoggerFactory, retransmits *RetransmitCounts, reports *senderReports) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	receives := reports == nil
	cfg = cfg.withDefaults()
	if lf == nil {
		lf = NewLoggerFactory(nil)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, nil, fmt.Errorf("register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	// First in the chain, so it sees what the NACK history sends again.
	ir.Add(retransmitFactory{&retransmits.Sent})
	// The NACK history keeps what senders write without copying it: every
	// sender (whep's sendTrack) writes a payload that is never modified.
	ir.Add(historyFactory{size: cfg.NACKBuffer, share: cfg.NACKShare, count: retransmits, lf: lf})
	if receives {
		gen, err := nack.NewGeneratorInterceptor(nack.WithGeneratorLoggerFactory(lf))
		if err != nil {
			return nil, nil, fmt.Errorf("configure nack: %w", err)
		}
		ir.Add(gen)
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBNACK}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	if receives {
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return nil, nil, fmt.Errorf("configure rtcp reports: %w", err)
		}
	} else {
		ir.Add(reports)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, nil, fmt.Errorf("configure simulcast headers: %w", err)
	}
	// The feedback generator goes to a registry of its own when nothing is
	// received: m still announces transport-cc.
	twccInto := ir
	if !receives {
		twccInto = &interceptor.Registry{}
	}
	if err := webrtc.ConfigureTWCCSender(m, twccInto); err != nil {
		return nil, nil, fmt.Errorf("configure twcc: %w", err)
	}
	return m, ir, nil
}

// fixedNet is a stdnet.Net that ICE agents share: not a *stdnet.Net, so
// that no agent refreshes (writes) its interface list while others read it.
type fixedNet struct{ *stdnet.Net }

// hostIPFilter keeps the local addresses listed in cfg.HostIPs, or all.
func hostIPFilter(cfg Config) (func(net.IP) bool, error) {
	if len(cfg.HostIPs) == 0 {
		return func(net.IP) bool { return true }, nil
	}
	var keep []net.IP
	for _, s := range cfg.HostIPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("ICE host address %q is not an IP address", s)
		}
		keep = append(keep, ip)
	}
	return func(ip net.IP) bool {
		for _, k := range keep {
			if k.Equal(ip) {
				return true
			}
		}
		return false
	}, nil
}

// remoteIPAllowed refuses remote candidates that would turn ICE checks into
// probes of the server's own surroundings: link-local space, which holds
// cloud metadata services (169.254.169.254), unspecified and multicast
// addresses (conformance H5). Loopback and private ranges stay usable for
// LAN deployments and tests.
func remoteIPAllowed(ip net.IP) bool {
	return !(ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || ip.IsInterfaceLocalMulticast())
}
