package rtsp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// ErrUnknownDevice is returned for names the catalogue does not hold.
var ErrUnknownDevice = errors.New("unknown device")

// Catalog is the set of cameras. Devices added with Add are kept in a JSON
// file; devices from settings and the demo camera are kept in memory only.
type Catalog struct {
	file string

	// mu guards all following fields.
	mu       sync.Mutex
	stored   map[string]Device
	volatile map[string]Device
}

// NewCatalog loads the devices stored in file ("" keeps nothing on disk).
func NewCatalog(file string) (*Catalog, error) {
	c := &Catalog{file: file, stored: map[string]Device{}, volatile: map[string]Device{}}
	if file == "" {
		return c, nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	var list []Device
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("read devices %s: %w", file, err)
	}
	for _, d := range list {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("devices %s: %w", file, err)
		}
		c.stored[d.Name] = d
	}
	return c, nil
}

// Add stores d (replacing a device of that name) and saves the file.
func (c *Catalog) Add(d Device) error {
	d, err := d.normalized()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.stored[d.Name]
	c.stored[d.Name] = d
	if err := c.save(); err != nil {
		if had {
			c.stored[d.Name] = old
		} else {
			delete(c.stored, d.Name)
		}
		return err
	}
	return nil
}

// Remove deletes a stored device and saves the file.
func (c *Catalog) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.stored[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownDevice, name)
	}
	delete(c.stored, name)
	if err := c.save(); err != nil {
		c.stored[name] = old
		return err
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

// Get returns the device called name; stored devices win over volatile.
func (c *Catalog) Get(name string) (Device, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.stored[name]; ok {
		return d, true
	}
	d, ok := c.volatile[name]
	return d, ok
}

// List returns every device sorted by name.
func (c *Catalog) List() []Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Device
	for _, d := range c.volatile {
		if _, ok := c.stored[d.Name]; !ok {
			out = append(out, d)
		}
	}
	for _, d := range c.stored {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// save writes the stored devices atomically. c.mu must be held.
func (c *Catalog) save() error {
	if c.file == "" {
		return nil
	}
	list := make([]Device, 0, len(c.stored))
	for _, d := range c.stored {
		list = append(list, d)
	}
	slices.SortFunc(list, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("encode devices: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(c.file), 0o750); err != nil {
		return fmt.Errorf("save devices: %w", err)
	}
	tmp := c.file + ".tmp"
	// The file holds camera credentials: readable by the owner only.
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save devices: %w", err)
	}
	if err := os.Rename(tmp, c.file); err != nil {
		return fmt.Errorf("save devices: %w", err)
	}
	return nil
}
