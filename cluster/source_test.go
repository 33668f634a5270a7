package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// describer is a source that knows the tracks of the names it covers.
type describer struct {
	tracks func(name string) ([]stream.TrackStatus, bool)
}

func (describer) Start(context.Context, string) error { return nil }
func (describer) Stop(string)                         {}
func (d describer) DescribedTracks(name string) ([]stream.TrackStatus, bool) {
	return d.tracks(name)
}

// In a cluster the hub still knows a camera's tracks without dialling it,
// so a viewer who cannot play them is refused at once, as on one node.
func TestClusterSourceDescribesTracks(t *testing.T) {
	h265 := []stream.TrackStatus{{Kind: stream.Video, Codec: stream.Codec{MimeType: "video/H265", ClockRate: 90000}}}
	inner := describer{tracks: func(name string) ([]stream.TrackStatus, bool) {
		return h265, name == "devices/cam"
	}}
	hub := stream.NewHub(stream.Config{}, nil)
	n := &Node{}
	hub.AddSource("devices/", n.Wrap(inner, true, time.Second))
	hub.AddSource("", n.Wrap(nil, false, time.Second))

	got, ok := hub.Expected("devices/cam")
	if !ok || len(got) != 1 || got[0].Codec.MimeType != "video/H265" {
		t.Fatalf("expected tracks of a camera in a cluster: %v %v", got, ok)
	}
	if _, ok := hub.Expected("devices/other"); ok {
		t.Error("tracks known of a camera never described")
	}
	if _, ok := hub.Expected("live/x"); ok {
		t.Error("tracks known of a stream with no describing source")
	}
}
