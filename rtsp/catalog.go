package rtsp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// ErrUnknownDevice is returned for names the catalogue does not hold.
var ErrUnknownDevice = errors.New("unknown device")

// DeviceStore keeps the devices people add, so that they outlive the
// process (the server keeps them in its account database). Get and Delete
// return an error wrapping ErrUnknownDevice for a name it does not hold.
type DeviceStore interface {
	ListDevices(ctx context.Context) ([]Device, error)
	GetDevice(ctx context.Context, name string) (Device, error)
	PutDevice(ctx context.Context, d Device) error
	DeleteDevice(ctx context.Context, name string) error
}

// Catalog is the set of cameras: devices added with Add live in a
// DeviceStore and are read through on every lookup, so changes by another
// process (the CLI) take effect at once; devices from settings and the
// demo camera live in memory only. A stored device wins over a volatile
// one of the same name.
type Catalog struct {
	store DeviceStore

	// mu guards volatile.
	mu       sync.Mutex
	volatile map[string]Device
}

// NewCatalog returns a catalogue keeping added devices in store (nil keeps
// them in memory).
func NewCatalog(store DeviceStore) *Catalog {
	if store == nil {
		store = &memoryStore{devices: map[string]Device{}}
	}
	return &Catalog{store: store, volatile: map[string]Device{}}
}

// Add stores d, replacing a stored device of that name.
func (c *Catalog) Add(ctx context.Context, d Device) error {
	d, err := d.normalized()
	if err != nil {
		return err
	}
	if err := c.store.PutDevice(ctx, d); err != nil {
		return fmt.Errorf("save device %s: %w", d.Name, err)
	}
	return nil
}

// Remove deletes a stored device; ErrUnknownDevice if none is stored
// under name (devices from settings cannot be removed).
func (c *Catalog) Remove(ctx context.Context, name string) error {
	if err := c.store.DeleteDevice(ctx, name); err != nil {
		return fmt.Errorf("remove device %s: %w", name, err)
	}
	return nil
}

// SetVolatile adds a device that is not saved (settings, demo camera).
func (c *Catalog) SetVolatile(d Device) error {
	d, err := d.normalized()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.volatile[d.Name] = d
	return nil
}

// Get returns the device called name, or an error wrapping
// ErrUnknownDevice.
func (c *Catalog) Get(ctx context.Context, name string) (Device, error) {
	d, err := c.store.GetDevice(ctx, name)
	if err == nil {
		d.Stored = true
		return d, nil
	}
	if !errors.Is(err, ErrUnknownDevice) {
		return Device{}, fmt.Errorf("look up device %s: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.volatile[name]; ok {
		return d, nil
	}
	return Device{}, fmt.Errorf("%w %q", ErrUnknownDevice, name)
}

// List returns every device sorted by name. When the store fails it still
// returns the volatile devices, with the error.
func (c *Catalog) List(ctx context.Context) ([]Device, error) {
	stored, err := c.store.ListDevices(ctx)
	byName := map[string]Device{}
	c.mu.Lock()
	maps.Copy(byName, c.volatile)
	c.mu.Unlock()
	for _, d := range stored {
		d.Stored = true
		byName[d.Name] = d
	}
	out := slices.Collect(maps.Values(byName))
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	if err != nil {
		return out, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// memoryStore is the DeviceStore of a catalogue without one.
type memoryStore struct {
	mu      sync.Mutex
	devices map[string]Device
}

func (m *memoryStore) ListDevices(context.Context) ([]Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.devices)), nil
}

func (m *memoryStore) GetDevice(_ context.Context, name string) (Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[name]
	if !ok {
		return Device{}, fmt.Errorf("%w %q", ErrUnknownDevice, name)
	}
	return d, nil
}

func (m *memoryStore) PutDevice(_ context.Context, d Device) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.devices[d.Name] = d
	return nil
}

func (m *memoryStore) DeleteDevice(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.devices[name]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownDevice, name)
	}
	delete(m.devices, name)
	return nil
}
