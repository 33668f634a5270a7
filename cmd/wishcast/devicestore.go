package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/rtsp"
)

// deviceStore keeps the camera catalogue in the account database.
type deviceStore struct{ st *auth.Store }

func (d deviceStore) ListDevices(ctx context.Context) ([]rtsp.Device, error) {
	list, err := d.st.ListDevices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]rtsp.Device, 0, len(list))
	for _, a := range list {
		out = append(out, fromAuthDevice(a))
	}
	return out, nil
}

func (d deviceStore) GetDevice(ctx context.Context, name string) (rtsp.Device, error) {
	a, err := d.st.GetDevice(ctx, name)
	if errors.Is(err, auth.ErrNotFound) {
		return rtsp.Device{}, fmt.Errorf("%w %q", rtsp.ErrUnknownDevice, name)
	}
	if err != nil {
		return rtsp.Device{}, err
	}
	return fromAuthDevice(a), nil
}

func (d deviceStore) PutDevice(ctx context.Context, dev rtsp.Device) error {
	transport := dev.Transport
	if transport == rtsp.TransportAuto {
		transport = ""
	}
	_, err := d.st.PutDevice(ctx, auth.Device{
		Name: dev.Name, URL: dev.URL, Transport: transport, Disabled: dev.Disabled,
		AlwaysOn: dev.AlwaysOn, Restricted: dev.Restricted, Viewers: dev.Viewers,
	})
	if errors.Is(err, auth.ErrInvalid) {
		return fmt.Errorf("%w: %v", rtsp.ErrInvalidDevice, err)
	}
	return err
}

func (d deviceStore) DeleteDevice(ctx context.Context, name string) error {
	err := d.st.DeleteDevice(ctx, name)
	if errors.Is(err, auth.ErrNotFound) {
		return fmt.Errorf("%w %q", rtsp.ErrUnknownDevice, name)
	}
	return err
}

func fromAuthDevice(a auth.Device) rtsp.Device {
	t := a.Transport
	if t == "" {
		t = rtsp.TransportAuto
	}
	return rtsp.Device{Name: a.Name, URL: a.URL, Transport: t, Disabled: a.Disabled,
		AlwaysOn: a.AlwaysOn, Restricted: a.Restricted, Viewers: a.Viewers}
}

// importDevicesFile moves the cameras of an older version's JSON camera
// list into the catalogue's store (keeping stored devices of the same
// name) and renames the file *.imported, so it is imported once.
func importDevicesFile(ctx context.Context, file string, cat *rtsp.Catalog, log *slog.Logger) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read camera list: %w", err)
	}
	var list []rtsp.Device
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("camera list %s: %w", file, err)
	}
	for _, d := range list {
		cur, err := cat.Get(ctx, d.Name)
		if err != nil && !errors.Is(err, rtsp.ErrUnknownDevice) {
			return err
		}
		if err == nil && cur.Stored {
			log.Warn("camera list: a stored camera of that name wins", "device", d.Name, "file", file)
			continue
		}
		if err := cat.Add(ctx, d); err != nil {
			return fmt.Errorf("camera list %s: %w", file, err)
		}
		log.Info("camera imported into the database", "device", d.Name, "url", d.RedactedURL())
	}
	if err := os.Rename(file, file+".imported"); err != nil {
		return fmt.Errorf("camera list: %w", err)
	}
	return nil
}
