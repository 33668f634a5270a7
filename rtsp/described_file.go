package rtsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// describedFile is the JSON file of the cameras' last descriptions, so
// that the cameras pages show each camera's codecs after a restart and
// refusals (within describedFor) need no dial.
type describedFile struct {
	Cameras map[string]describedJSON `json:"cameras"`
}

type describedJSON struct {
	At     time.Time   `json:"at"`
	Camera string      `json:"camera"` // see fingerprint
	Tracks []trackJSON `json:"tracks"`
}

type trackJSON struct {
	Kind      string `json:"kind"`
	MimeType  string `json:"mime_type"`
	ClockRate uint32 `json:"clock_rate"`
	Channels  uint16 `json:"channels,omitempty"`
	Fmtp      string `json:"fmtp,omitempty"`
	Layer     string `json:"layer,omitempty"`
}

// KeepDescriptions keeps the cameras' last descriptions in the file at
// path from now on, and loads those it holds of cameras that the
// catalog's devices still dial (same URL and transport). A missing file
// is no error; an unreadable one is reported and then replaced at the
// next change.
func (p *Puller) KeepDescriptions(ctx context.Context, path string) error {
	p.mu.Lock()
	p.knownFile = path
	p.mu.Unlock()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read camera descriptions: %w", err)
	}
	var f describedFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("read camera descriptions %s: %w", path, err)
	}
	// A device whose URL changed while the server was stopped dials
	// another camera: what the old one sent says nothing of it.
	devices, err := p.cat.List(ctx)
	cameras := make(map[string]string, len(devices))
	for _, d := range devices {
		cameras[Prefix+d.Name] = fingerprint(d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, d := range f.Cameras {
		if fp, ok := cameras[name]; !ok || fp != d.Camera {
			continue
		}
		var tracks []stream.TrackStatus
		for _, t := range d.Tracks {
			k := stream.Audio
			if t.Kind == stream.Video.String() {
				k = stream.Video
			}
			tracks = append(tracks, stream.TrackStatus{Kind: k, Layer: t.Layer,
				Codec: stream.Codec{MimeType: t.MimeType, ClockRate: t.ClockRate, Channels: t.Channels, Fmtp: t.Fmtp}})
		}
		if _, ok := p.known[name]; !ok {
			p.known[name] = described{tracks: tracks, at: d.At, camera: d.Camera}
		}
	}
	if err != nil {
		return fmt.Errorf("camera descriptions: the devices to check them against: %w", err)
	}
	return nil
}

// saveKnown writes the descriptions to the file, if one is kept, through
// a temporary file and a rename. p.mu must be held.
func (p *Puller) saveKnown() {
	if p.knownFile == "" {
		return
	}
	f := describedFile{Cameras: map[string]describedJSON{}}
	for name, d := range p.known {
		dj := describedJSON{At: d.at.UTC(), Camera: d.camera}
		for _, t := range d.tracks {
			dj.Tracks = append(dj.Tracks, trackJSON{Kind: t.Kind.String(), MimeType: t.Codec.MimeType, ClockRate: t.Codec.ClockRate,
				Channels: t.Codec.Channels, Fmtp: t.Codec.Fmtp, Layer: t.Layer})
		}
		f.Cameras[name] = dj
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		tmp := p.knownFile + ".tmp"
		if err = os.MkdirAll(filepath.Dir(tmp), 0o700); err == nil {
			if err = os.WriteFile(tmp, b, 0o600); err == nil {
				err = os.Rename(tmp, p.knownFile)
			}
		}
	}
	if err != nil {
		p.log.Warn("save camera descriptions", "file", p.knownFile, "err", err)
	}
}

// sameTracks reports whether two descriptions list the same tracks.
func sameTracks(a, b []stream.TrackStatus) bool {
	return slices.EqualFunc(a, b, func(x, y stream.TrackStatus) bool {
		return x.Kind == y.Kind && x.Layer == y.Layer && x.Codec.Equal(y.Codec)
	})
}
