package stream

import "testing"

// describingSource is a fakeSource that knows what it would publish.
type describingSource struct {
	fakeSource
	tracks []TrackStatus
}

func (d *describingSource) DescribedTracks(string) ([]TrackStatus, bool) {
	return d.tracks, d.tracks != nil
}

// Expected tells what a viewer would get without starting a source: the
// live tracks, else the source's description, else nothing.
func TestExpected(t *testing.T) {
	h := NewHub(Config{}, nil)
	t.Cleanup(h.Close)
	vp8 := Codec{MimeType: "video/VP8", ClockRate: 90000}
	h264 := Codec{MimeType: "video/H264", ClockRate: 90000}
	src := &describingSource{tracks: []TrackStatus{{Kind: Video, Codec: h264}}}
	h.AddSource("devices/", src)
	h.AddSource("users/", &fakeSource{})

	if got, ok := h.Expected("devices/cam"); !ok || len(got) != 1 || got[0].Codec.MimeType != "video/H264" {
		t.Fatalf("described: %v %v", got, ok)
	}
	if _, ok := h.Expected("users/bob"); ok {
		t.Fatal("a source that describes nothing: known")
	}
	if _, ok := h.Expected("live/none"); ok {
		t.Fatal("no source, no publisher: known")
	}
	if src.starts.Load() != 0 {
		t.Fatal("Expected started a source")
	}
	pub, err := h.Publish("devices/cam", []TrackInfo{{Kind: Video, Codec: vp8}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if got, ok := h.Expected("devices/cam"); !ok || len(got) != 1 || got[0].Codec.MimeType != "video/VP8" {
		t.Fatalf("live: %v %v; want the live track over the description", got, ok)
	}
}
