package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"
)

// Device is an RTSP camera of the catalogue, served as devices/{Name}.
// URL may carry the camera's credentials: never log it (Device's LogValue
// redacts it) nor show it to non-admins.
type Device struct {
	Name string
	URL  string // rtsp:// or rtsps://
	// Transport is "tcp", "udp" or "" (the puller chooses).
	Transport string
	Disabled  bool
	// AlwaysOn keeps the camera pulled without viewers.
	AlwaysOn bool
	// Restricted limits viewing to admins and Viewers; by default every
	// signed-in user may view the device.
	Restricted bool
	Viewers    []string
	Created    time.Time
	Updated    time.Time
}

// StreamInfo is what Authorize needs to know about the device's stream.
func (d Device) StreamInfo() StreamInfo {
	return StreamInfo{Restricted: d.Restricted, Viewers: d.Viewers}
}

// LogValue implements slog.LogValuer without the URL's password.
func (d Device) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", d.Name), slog.String("url", redactURL(d.URL)),
		slog.String("transport", d.Transport), slog.Bool("disabled", d.Disabled))
}

// redactURL hides the password of a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// validate checks a device before it is stored.
func (d Device) validate() error {
	if err := ValidateName(d.Name); err != nil {
		return err
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		return invalidf("device %s: the URL must be rtsp://host[:port]/path or rtsps://...", d.Name)
	}
	if d.Transport != "" && d.Transport != "tcp" && d.Transport != "udp" {
		return invalidf("device %s: transport %q is not tcp, udp or empty", d.Name, d.Transport)
	}
	for _, v := range d.Viewers {
		if err := ValidateName(v); err != nil {
			return fmt.Errorf("device %s: viewer: %w", d.Name, err)
		}
	}
	return nil
}

// PutDevice adds a device or replaces the one of that name (keeping its
// creation time) and returns what was stored.
func (s *Store) PutDevice(ctx context.Context, d Device) (Device, error) {
	if err := d.validate(); err != nil {
		return Device{}, fmt.Errorf("put device: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	d.Created, d.Updated = now, now
	d.Viewers = slices.Clone(d.Viewers)
	err := s.write(ctx, "put device "+d.Name, func(q queries) error {
		d.Created = now
		switch old, err := q.device(ctx, d.Name); {
		case err == nil:
			d.Created = old.Created
		case !errors.Is(err, ErrNotFound):
			return err
		}
		// Viewers are matched exactly (Authorize): store the accounts'
		// own spelling of the names an admin typed. A name with no account
		// is kept as typed.
		for i, v := range d.Viewers {
			switch u, err := q.user(ctx, v); {
			case err == nil:
				d.Viewers[i] = u.Name
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		return q.putDevice(ctx, d)
	})
	if err != nil {
		return Device{}, err
	}
	return d, nil
}

// GetDevice returns the device called name, or ErrNotFound.
func (s *Store) GetDevice(ctx context.Context, name string) (Device, error) {
	d, err := s.read().device(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return Device{}, fmt.Errorf("device %s: %w", clip(name), ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device %s: %w", clip(name), err)
	}
	return d, nil
}

// ListDevices returns every device, by name.
func (s *Store) ListDevices(ctx context.Context) ([]Device, error) {
	ds, err := s.read().devices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return ds, nil
}

// DeleteDevice removes a device, and its stream's settings (a camera
// added later under the name starts private); ErrNotFound if there is
// none.
func (s *Store) DeleteDevice(ctx context.Context, name string) error {
	return s.write(ctx, "delete device "+clip(name), func(q queries) error {
		if err := q.deleteDevice(ctx, name); err != nil {
			return err
		}
		return q.setStreamPublic(ctx, "devices/"+name, false, s.now())
	})
}
