package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"
)

// API is the one pion API of the process with the sockets it owns.
type API struct {
	*webrtc.API
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	tcpLn  net.Listener
	// UDPAddrs and TCPAddr are where ICE listens, for the start-up log.
	UDPAddrs []net.Addr
	TCPAddr  net.Addr
}

// Close releases the ICE sockets.
func (a *API) Close() error {
	var errs []error
	if a.udpMux != nil {
		errs = append(errs, a.udpMux.Close())
	}
	if a.tcpMux != nil {
		errs = append(errs, a.tcpMux.Close())
	}
	return errors.Join(errs...)
}

// NewAPI builds the pion API every session uses: all codecs wishcast
// forwards, NACK/RTCP-report/TWCC interceptors, one UDP port and one TCP port
// for ICE, and the NAT and filtering settings of cfg.
func NewAPI(cfg Config, log *slog.Logger) (*API, error) {
	cfg = cfg.withDefaults()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	lf := NewLoggerFactory(log)
	if err := webrtc.ConfigureNackWithOptions(m, ir,
		[]nack.GeneratorOption{nack.WithGeneratorLoggerFactory(lf)},
		nack.ResponderSize(cfg.NACKBuffer), nack.WithResponderLoggerFactory(lf)); err != nil {
		return nil, fmt.Errorf("configure nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("configure rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("configure simulcast headers: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, fmt.Errorf("configure twcc: %w", err)
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
	// handshake gets the same bound (conformance H6, H13).
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	se.SetDTLSConnectContextMaker(func() (context.Context, func()) {
		return context.WithTimeout(context.Background(), cfg.HandshakeTimeout)
	})
	// Multicast DNS would announce .local names that a server cannot use.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// SRTP replay protection stays on (conformance H14); GCM first.

	a := &API{}
	opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithIPFilter(ipFilter), ice.UDPMuxFromPortWithLogger(lf.NewLogger("udpmux"))}
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
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.TCPPort))
		if err != nil {
			_ = a.Close()
			return nil, fmt.Errorf("listen ICE TCP port %d: %w", cfg.TCPPort, err)
		}
		a.tcpLn = ln
		a.TCPAddr = ln.Addr()
		a.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: ln, Logger: lf.NewLogger("tcpmux"), ReadBufferSize: 32})
		se.SetICETCPMux(a.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	a.API = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return a, nil
}

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
