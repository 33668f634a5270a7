// Package rtsp brings RTSP IP cameras into wishcast: a catalogue of
// devices and a puller that dials a camera only while someone watches
// devices/{name}, repacketizes its H.264 for WebRTC (parameter sets in-band
// before every keyframe, payloads of at most 1200 bytes), passes Opus and
// G.711 through, and reconnects with backoff.
package rtsp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wishcast/wishcast/stream"
)

// Transports a device may ask for.
const (
	TransportAuto = "auto"
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
)

// Device is one camera of the catalogue, viewed as stream devices/{Name}.
type Device struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Transport string `json:"transport,omitempty"`
	Disabled  bool   `json:"disabled,omitempty"`
	AlwaysOn  bool   `json:"always_on,omitempty"`
	// Restricted limits viewing to admins and Viewers; by default every
	// signed-in user may view the camera.
	Restricted bool     `json:"restricted,omitempty"`
	Viewers    []string `json:"viewers,omitempty"`
	// Stored is set by the catalogue for devices its store keeps (not
	// those from settings or the demo camera).
	Stored bool `json:"-"`
}

// ErrInvalidDevice is wrapped by Device.Validate errors.
var ErrInvalidDevice = errors.New("invalid device")

// Validate checks the name (one stream-name segment), the URL (rtsp or
// rtsps only, a host) and the transport.
func (d Device) Validate() error {
	if strings.Contains(d.Name, "/") {
		return fmt.Errorf("%w: name %q must be one segment", ErrInvalidDevice, d.Name)
	}
	if err := stream.ValidateName("devices/" + d.Name); err != nil {
		return fmt.Errorf("%w: name %q: %v", ErrInvalidDevice, d.Name, err)
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return fmt.Errorf("%w: %s: URL does not parse", ErrInvalidDevice, d.Name)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("%w: %s: only rtsp:// and rtsps:// URLs are allowed, not %q", ErrInvalidDevice, d.Name, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%w: %s: URL has no host", ErrInvalidDevice, d.Name)
	}
	switch d.Transport {
	case "", TransportAuto, TransportTCP, TransportUDP:
	default:
		return fmt.Errorf("%w: %s: transport must be auto, tcp or udp, not %q", ErrInvalidDevice, d.Name, d.Transport)
	}
	return nil
}

// normalized fills the default transport and validates d.
func (d Device) normalized() (Device, error) {
	if d.Transport == "" {
		d.Transport = TransportAuto
	}
	return d, d.Validate()
}

// RedactedURL is the URL with the password replaced, for logs and for
// people who may not see camera credentials.
func (d Device) RedactedURL() string {
	u, err := url.Parse(d.URL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// URLWithoutCredentials is the URL with user and password removed, for
// API output.
func (d Device) URLWithoutCredentials() string {
	u, err := url.Parse(d.URL)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

// hasCredentials reports whether the URL carries a user or password.
func (d Device) hasCredentials() bool {
	u, err := url.Parse(d.URL)
	return err == nil && u.User != nil
}

// redact removes the device's password from s (an error text from a
// library that may have quoted the URL).
func (d Device) redact(s string) string {
	u, err := url.Parse(d.URL)
	if err != nil || u.User == nil {
		return s
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return strings.ReplaceAll(s, d.URL, u.Redacted())
}

// ParseDevice reads the compact form name=rtsp://…[#tcp|#udp][#always-on]
// used by the DEVICES setting.
func ParseDevice(s string) (Device, error) {
	name, rest, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Device{}, fmt.Errorf("%w: %q is not name=rtsp://…", ErrInvalidDevice, s)
	}
	d := Device{Name: name, Transport: TransportAuto}
	parts := strings.Split(rest, "#")
	d.URL = parts[0]
	for _, opt := range parts[1:] {
		switch opt {
		case TransportTCP, TransportUDP, TransportAuto:
			d.Transport = opt
		case "always-on":
			d.AlwaysOn = true
		default:
			return Device{}, fmt.Errorf("%w: %s: unknown option #%s", ErrInvalidDevice, name, opt)
		}
	}
	return d, d.Validate()
}
