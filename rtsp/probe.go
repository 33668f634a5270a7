package rtsp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// ErrNetworkRefused is wrapped when a camera's address is outside the
// allowed networks.
var ErrNetworkRefused = errors.New("camera address not allowed")

// resolveTimeout bounds the name lookup of CheckAddress.
const resolveTimeout = 2 * time.Second

// CheckAddress refuses a device whose host is, or resolves to, an address
// outside the allowed camera networks (setting RTSP_ALLOWED_NETWORKS), so
// an admin learns of it when saving the device rather than when someone
// watches. A name that does not resolve now passes: the dial checks again.
func (p *Puller) CheckAddress(ctx context.Context, d Device) error {
	u, err := url.Parse(d.URL)
	if err != nil {
		return fmt.Errorf("%w: %s: URL does not parse", ErrInvalidDevice, d.Name)
	}
	g := &guard{allowed: p.allowed}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
		addrs, _ = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	for _, a := range addrs {
		if !g.permitted(a) {
			return fmt.Errorf("%w: %s (%s) is outside the allowed camera networks (setting RTSP_ALLOWED_NETWORKS)", ErrNetworkRefused, host, a)
		}
	}
	return nil
}

// ProbeResult is what a camera offers, from one DESCRIBE.
type ProbeResult struct {
	// Video and Audio name the formats wishcast would forward ("" if none).
	Video, Audio string
	// Warnings name the tracks that would be left out, and why.
	Warnings []string
}

// Probe connects to d once (DESCRIBE only, through the same network guard
// as the puller) and reports what it would forward. Error texts never
// carry the camera's password.
func (p *Puller) Probe(ctx context.Context, d Device) (ProbeResult, error) {
	if err := d.Validate(); err != nil {
		return ProbeResult{}, err
	}
	client, u, err := p.newClient(d)
	if err != nil {
		return ProbeResult{}, err
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, client.Close)
	defer stop()
	desc, _, err := client.Describe(u)
	if err != nil {
		return ProbeResult{}, errors.New(d.redact(fmt.Sprintf("DESCRIBE: %v", err)))
	}
	chosen, warnings := choose(desc, nil)
	res := ProbeResult{Warnings: warnings}
	var infos []stream.TrackInfo
	ready := true
	for _, c := range chosen {
		if c.fw.info.Kind == stream.Video {
			res.Video = c.fw.codecName
		} else {
			res.Audio = c.fw.codecName
		}
		infos = append(infos, c.fw.info)
		ready = ready && c.fw.ready()
	}
	if res.Video == "" && res.Audio == "" {
		return res, errNothingPlayable
	}
	// What a viewer would get, as a connection would publish it (audio
	// first): remembered, as a dial for a viewer does, when the
	// description says it all (H.264 and H.265 parameter sets in the SDP).
	if ready {
		slices.SortStableFunc(infos, func(a, b stream.TrackInfo) int { return int(a.Kind) - int(b.Kind) })
		p.remember(Prefix+d.Name, d, infos)
	}
	return res, nil
}
