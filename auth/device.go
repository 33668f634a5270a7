package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
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

// deviceColumns are the columns scanDevice reads, in order.
const deviceColumns = "name, url, transport, disabled, always_on, restricted, viewers, created_at, updated_at"

// scanDevice reads one row of deviceColumns.
func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var viewers string
	var created, updated int64
	err := row.Scan(&d.Name, &d.URL, &d.Transport, &d.Disabled, &d.AlwaysOn, &d.Restricted, &viewers, &created, &updated)
	d.Viewers = strings.Fields(viewers)
	d.Created, d.Updated = fromMillis(created), fromMillis(updated)
	return d, err
}

// PutDevice adds a device or replaces the one of that name (keeping its
// creation time) and returns what was stored.
func (s *Store) PutDevice(ctx context.Context, d Device) (Device, error) {
	if err := d.validate(); err != nil {
		return Device{}, fmt.Errorf("put device: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	d.Created, d.Updated = now, now
	err := s.write(ctx, "put device "+d.Name, func(tx *sql.Tx) error {
		var created int64
		switch err := tx.QueryRowContext(ctx, "SELECT created_at FROM devices WHERE name = ?", d.Name).Scan(&created); {
		case err == nil:
			d.Created = fromMillis(created)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		// Viewers are matched exactly (Authorize): store the accounts'
		// own spelling of the names an admin typed. A name with no account
		// is kept as typed.
		for i, v := range d.Viewers {
			var name string
			switch err := tx.QueryRowContext(ctx, "SELECT name FROM users WHERE name = ?", v).Scan(&name); {
			case err == nil:
				d.Viewers[i] = name
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO devices (`+deviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Name, d.URL, d.Transport, d.Disabled, d.AlwaysOn, d.Restricted, strings.Join(d.Viewers, " "),
			millis(d.Created), millis(d.Updated))
		return err
	})
	if err != nil {
		return Device{}, err
	}
	return d, nil
}

// GetDevice returns the device called name, or ErrNotFound.
func (s *Store) GetDevice(ctx context.Context, name string) (Device, error) {
	d, err := scanDevice(s.rdb.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("device %s: %w", clip(name), ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device %s: %w", clip(name), err)
	}
	return d, nil
}

// ListDevices returns every device, by name.
func (s *Store) ListDevices(ctx context.Context) ([]Device, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+deviceColumns+" FROM devices ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var ds []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return ds, nil
}

// DeleteDevice removes a device; ErrNotFound if there is none.
func (s *Store) DeleteDevice(ctx context.Context, name string) error {
	return s.write(ctx, "delete device "+clip(name), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM devices WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
