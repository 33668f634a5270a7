package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// parseSRTP maps the names -srtp takes to SRTP protection profiles.
func parseSRTP(name string) (dtls.SRTPProtectionProfile, bool) {
	switch name {
	case "gcm256":
		return dtls.SRTP_AEAD_AES_256_GCM, true
	case "gcm128":
		return dtls.SRTP_AEAD_AES_128_GCM, true
	case "cm128":
		return dtls.SRTP_AES128_CM_HMAC_SHA1_80, true
	}
	return 0, false
}

// newAPI is the pion API of every load peer: one codec (codecVP8 or
// codecH264, see codecParameters), no interceptors (no NACK, reports, TWCC
// or buffering per packet), one IPv4 host candidate on local (see
// localAddrFor), no mDNS. The viewers of a load run share one API.
//
// srtp, when not empty, is the only SRTP profile offered (see parseSRTP).
func newAPI(srtp, codec string, local net.IP) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(codecParameters(codec), webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(local.IsLoopback())
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(local) })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0) // disabled
	if srtp != "" {
		p, ok := parseSRTP(srtp)
		if !ok {
			return nil, fmt.Errorf("unknown SRTP profile %q", srtp)
		}
		se.SetSRTPProtectionProfiles(p)
	}
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(se),
	), nil
}

// localAddrFor is the IPv4 address of this machine that routes to the
// host of server (a base URL): 127.0.0.1 for a server on loopback, the
// address of the interface towards it otherwise, e.g. a veth pair between
// two network namespaces. No packet is sent to find it.
func localAddrFor(server string) (net.IP, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("server host: %w", err)
	}
	for _, ip := range ips {
		if ip.To4() == nil {
			continue
		}
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: ip, Port: 9})
		if err != nil {
			return nil, fmt.Errorf("route to the server: %w", err)
		}
		local := c.LocalAddr().(*net.UDPAddr).IP
		_ = c.Close()
		return local, nil
	}
	return nil, fmt.Errorf("server host %q has no IPv4 address", u.Hostname())
}

// completeOffer makes pc's offer with every candidate gathered (WHIP and
// WHEP clients without trickle send one complete offer).
func completeOffer(ctx context.Context, pc *webrtc.PeerConnection) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// exchange posts pc's complete offer to endpoint, applies the answer and
// returns the session URL (the Location header, resolved).
func exchange(ctx context.Context, hc *http.Client, pc *webrtc.PeerConnection, endpoint string) (string, error) {
	offer, err := completeOffer(ctx, pc)
	if err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST %s: %s: %s", endpoint, resp.Status, strings.TrimSpace(string(body)))
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("POST %s: no usable Location: %w", endpoint, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return loc.String(), fmt.Errorf("answer: %w", err)
	}
	return loc.String(), nil
}

// deleteSession ends a WHIP or WHEP session.
func deleteSession(ctx context.Context, hc *http.Client, location string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("DELETE %s: %s", location, resp.Status)
	}
	return nil
}

// endpointURL joins the server URL, a WHIP/WHEP prefix and a stream name.
func endpointURL(server, prefix, stream string) (string, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("server URL %q: want http or https", server)
	}
	return u.String() + "/" + prefix + "/" + strings.TrimLeft(stream, "/"), nil
}

// connectionWatch turns pc's state changes into two channels: up is closed
// when the connection is first connected, down when it fails or closes.
type connectionWatch struct {
	up, down chan struct{}
}

func watchConnection(pc *webrtc.PeerConnection, onUp func()) *connectionWatch {
	w := &connectionWatch{up: make(chan struct{}), down: make(chan struct{})}
	// pion calls the handler in a new goroutine per change.
	var upOnce, downOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			upOnce.Do(func() {
				if onUp != nil {
					onUp()
				}
				close(w.up)
			})
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			downOnce.Do(func() { close(w.down) })
		}
	})
	return w
}

// waitUp waits for the connection to come up, fail or ctx to end.
func (w *connectionWatch) waitUp(ctx context.Context) error {
	select {
	case <-w.up:
		return nil
	case <-w.down:
		return fmt.Errorf("connection failed before it was up")
	case <-ctx.Done():
		return fmt.Errorf("connection not up: %w", ctx.Err())
	}
}
