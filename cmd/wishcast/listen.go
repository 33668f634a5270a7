package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wishcast/wishcast/tlsx"
)

// serve listens until ctx ends, then shuts down: readiness off, listeners
// drained, sessions closed, hub and ICE sockets released. The main listener
// speaks HTTPS unless TLS_MODE is none; HTTP_REDIRECT_LISTEN adds a plain
// HTTP listener that redirects to it.
func (s *server) serve(ctx context.Context) error {
	certs, err := tlsx.New(s.cfg.TLS, s.cfg.DataDir, s.log.With("component", "tls"))
	if err != nil {
		s.close()
		return fmt.Errorf("tls: %w", err)
	}
	defer certs.Close()
	proxies, err := tlsx.Proxies(s.cfg.TLS)
	if err != nil {
		s.close()
		return fmt.Errorf("tls: %w", err)
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.close()
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	var rln net.Listener
	if s.cfg.TLS.RedirectListen != "" {
		if rln, err = net.Listen("tcp", s.cfg.TLS.RedirectListen); err != nil {
			ln.Close()
			s.close()
			return fmt.Errorf("listen %s (%sHTTP_REDIRECT_LISTEN): %w", s.cfg.TLS.RedirectListen, envPrefix, err)
		}
	}
	var mln net.Listener
	if s.cfg.Metrics.Listen != "" {
		if mln, err = net.Listen("tcp", s.cfg.Metrics.Listen); err != nil {
			ln.Close()
			if rln != nil {
				rln.Close()
			}
			s.close()
			return fmt.Errorf("listen %s (%sMETRICS_LISTEN; another address, or empty to turn metrics off): %w", s.cfg.Metrics.Listen, envPrefix, err)
		}
	}
	hs := s.httpServer(proxies(s.handler))
	hs.TLSConfig = certs.TLSConfig()
	// Event feeds never end by themselves: close them as shutdown starts,
	// or Shutdown would wait for them until its timeout.
	hs.RegisterOnShutdown(s.bridge.Close)
	hs.RegisterOnShutdown(s.whep.Shutdown)
	s.logStart(certs, ln.Addr(), rln)

	errc := make(chan error, 2)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	var redirect, metricsSrv *http.Server
	if rln != nil {
		target := ln.Addr().String()
		if p := s.cfg.TLS.PublicPort; p > 0 {
			target = net.JoinHostPort("", strconv.Itoa(p))
		}
		redirect = s.httpServer(certs.RedirectHandler(target))
		go func() { errc <- fmt.Errorf("redirect listener: %w", redirect.Serve(rln)) }()
	}
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		metricsSrv = s.httpServer(mux)
		s.log.Info("Prometheus metrics at", "url", "http://"+mln.Addr().String()+"/metrics")
		go func() { errc <- fmt.Errorf("metrics listener: %w", metricsSrv.Serve(mln)) }()
	}
	select {
	case err := <-errc:
		_ = hs.Close()
		for _, o := range []*http.Server{redirect, metricsSrv} {
			if o != nil {
				_ = o.Close()
			}
		}
		s.close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var drained sync.WaitGroup
	for _, o := range []*http.Server{redirect, metricsSrv} {
		if o != nil {
			drained.Go(func() { _ = o.Shutdown(sctx) })
		}
	}
	err = hs.Shutdown(sctx)
	drained.Wait()
	s.close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// httpServer is an http.Server with the configured limits.
func (s *server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// logStart says where people can open wishcast, how to pin a self-signed
// certificate, and what the network needs for media to flow.
func (s *server) logStart(certs *tlsx.Manager, addr net.Addr, redirect net.Listener) {
	s.log.Info("wishcast listening", "version", version, "tls", certs.Mode(), "listen", addr.String(),
		"ice_udp", fmt.Sprint(s.api.UDPAddrs), "ice_tcp", fmt.Sprint(s.api.TCPAddrs))
	for _, u := range certs.URLs(addr) {
		s.log.Info("open wishcast at", "url", u)
	}
	if redirect != nil {
		s.log.Info("plain HTTP redirects to HTTPS", "listen", redirect.Addr().String())
	}
	if sum, spki := certs.Fingerprints(); sum != "" {
		s.log.Info("certificate fingerprints: check them in the browser, or pin the public key",
			"sha256", sum, "spki_sha256", spki, "chromium", "--ignore-certificate-errors-spki-list="+spki)
	}
	local, err := tlsx.LocalIPs()
	if err != nil {
		s.log.Debug("local addresses", "err", err)
	}
	in := adviceInput{
		UDP: s.api.UDPAddrs, TCP: s.api.TCPAddrs, Listen: addr,
		NAT1To1: s.cfg.WebRTC.NAT1To1IPs, HostIPs: s.cfg.WebRTC.HostIPs, TURN: s.cfg.WebRTC.TURNURLs,
		LocalIPs: local, TLSMode: certs.Mode(), Proxied: len(s.cfg.TLS.TrustedProxies) > 0,
	}
	if redirect != nil {
		in.Redirect = redirect.Addr()
	}
	for _, a := range networkAdvice(in) {
		level := slog.LevelInfo
		if a.Warn {
			level = slog.LevelWarn
		}
		s.log.Log(context.Background(), level, a.Msg, a.Attrs...)
	}
}

// adviceInput is what networkAdvice looks at.
type adviceInput struct {
	UDP, TCP []net.Addr   // where ICE listens
	Listen   net.Addr     // the main (HTTP or HTTPS) listener
	Redirect net.Addr     // the HTTP redirect listener, or nil
	NAT1To1  []string     // ICE_NAT_1TO1_IPS
	HostIPs  []string     // ICE_HOST_IPS
	TURN     []string     // TURN_URLS
	LocalIPs []netip.Addr // the machine's addresses
	TLSMode  string
	Proxied  bool // TRUSTED_PROXIES is set: a proxy may terminate HTTPS
}

// advice is one line of network advice for the start-up log.
type advice struct {
	Warn  bool
	Msg   string
	Attrs []any
}

// networkAdvice says which ports must be reachable and warns about set-ups
// where browsers on other machines will not get media or a camera: only
// private addresses announced with neither NAT 1:1 nor TURN, plain HTTP
// beyond localhost, ACME without port 443 or 80.
func networkAdvice(in adviceInput) []advice {
	var out []advice
	ports := []any{"https_tcp", portsOf([]net.Addr{in.Listen})}
	if in.TLSMode == tlsx.ModeNone {
		ports[0] = "http_tcp"
	}
	ports = append(ports, "ice_udp", portsOf(in.UDP))
	if len(in.TCP) > 0 {
		ports = append(ports, "ice_tcp", portsOf(in.TCP))
	} else {
		ports = append(ports, "ice_tcp", "off")
	}
	out = append(out, advice{Msg: "viewers on other machines need these ports open to this host", Attrs: ports})

	announced := in.NAT1To1
	if len(announced) == 0 {
		announced = in.HostIPs
	}
	if len(announced) == 0 {
		for _, a := range in.LocalIPs {
			if !a.IsLoopback() {
				announced = append(announced, a.String())
			}
		}
	}
	if len(in.NAT1To1) == 0 && len(in.TURN) == 0 && allPrivate(announced) {
		out = append(out, advice{Warn: true,
			Msg: "ICE announces only private or loopback addresses: browsers outside this network will not receive media; set " +
				envPrefix + "ICE_NAT_1TO1_IPS to the public address (with the ICE ports forwarded here) or " + envPrefix + "TURN_URLS",
			Attrs: []any{"announced", strings.Join(announced, ",")}})
	}

	// On all addresses this is how every first start looks, so it is
	// said; bound to one non-loopback address it is a likely mistake.
	if ip := addrIP(in.Listen); in.TLSMode == tlsx.ModeNone && !in.Proxied && !ip.IsLoopback() {
		out = append(out, advice{Warn: !ip.IsUnspecified(),
			Msg: "plain HTTP: browsers allow camera and microphone only on https:// pages or on localhost; set " +
				envPrefix + "TLS_MODE (self-signed, files or acme), or serve through an HTTPS proxy listed in " + envPrefix + "TRUSTED_PROXIES"})
	}
	if in.TLSMode == tlsx.ModeACME && addrPort(in.Listen) != 443 && (in.Redirect == nil || addrPort(in.Redirect) != 80) {
		out = append(out, advice{Warn: true,
			Msg: "ACME validates each of " + envPrefix + "TLS_HOSTS on port 443 (TLS-ALPN-01) or port 80 (HTTP-01): forward one of them to this server, or listen there"})
	}
	return out
}

// allPrivate reports whether every address is private, loopback,
// link-local or carrier-grade NAT, none reachable from the internet; an
// empty or unparsable list (a host name) counts as not private.
func allPrivate(addrs []string) bool {
	if len(addrs) == 0 {
		return false
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	for _, s := range addrs {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		a = a.Unmap()
		if !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !cgnat.Contains(a) {
			return false
		}
	}
	return true
}

// portsOf lists the distinct ports of addrs, comma separated.
func portsOf(addrs []net.Addr) string {
	var out []string
	for _, a := range addrs {
		if p := strconv.Itoa(addrPort(a)); a != nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// addrPort is the port of a TCP or UDP address, 0 for nil.
func addrPort(a net.Addr) int {
	if a == nil {
		return 0
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return 0
	}
	return int(ap.Port())
}

// addrIP is the IP of a TCP or UDP address; unspecified for nil.
func addrIP(a net.Addr) netip.Addr {
	if a == nil {
		return netip.IPv6Unspecified()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// buildInfo is what the binary knows about its build, for /healthz and
// 'wishcast version'.
type buildInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
}

// readBuildInfo reads the Go version and the VCS stamp (absent when built
// with -buildvcs=false or outside a repository).
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one-line form 'wishcast version' prints.
func (b buildInfo) String() string {
	parts := []string{b.Go}
	if b.Revision != "" {
		parts = append(parts, "revision "+b.Revision)
	}
	if b.Time != "" {
		parts = append(parts, b.Time)
	}
	if b.Modified {
		parts = append(parts, "modified")
	}
	return fmt.Sprintf("wishcast %s (%s)", b.Version, strings.Join(parts, ", "))
}
