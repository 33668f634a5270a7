package main

import (
	"context"
	"errors"
	"fmt"

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
