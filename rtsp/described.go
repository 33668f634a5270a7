package rtsp

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/wishcast/wishcast/stream"
)

// describedFor is how long a camera's last description is trusted to
// refuse viewers who cannot play it without dialling the camera again.
// A camera reconfigured meanwhile (another codec) is seen at the next
// dial after that, or at once by any viewer whose offer does match.
const describedFor = 10 * time.Minute

// described is what a camera published when it was last dialled.
type described struct {
	tracks []stream.TrackStatus
	at     time.Time
	camera string // the fingerprint of the device's settings then (see fingerprint)
}

// fingerprint names the camera that d's settings dial (its URL and
// transport) without showing them, credentials included: a description
// kept across a restart counts only while its device still dials the
// same camera.
func fingerprint(d Device) string {
	sum := sha256.Sum256([]byte(d.URL + "\n" + d.Transport))
	return hex.EncodeToString(sum[:12])
}

// remember records the tracks a camera's connection to dev published.
func (p *Puller) remember(name string, dev Device, infos []stream.TrackInfo) {
	tracks := make([]stream.TrackStatus, 0, len(infos))
	for _, i := range infos {
		tracks = append(tracks, stream.TrackStatus{Kind: i.Kind, Codec: i.Codec, Layer: i.Layer})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old, had := p.known[name]
	p.known[name] = described{tracks: tracks, at: time.Now(), camera: fingerprint(dev)}
	// The file keeps what the cameras send; a reconnect that changes
	// nothing is not written (its time only matters within describedFor).
	if !had || old.camera != fingerprint(dev) || !sameTracks(old.tracks, tracks) || time.Since(old.at) > describedFor/2 {
		p.saveKnown()
	}
}

// DescribedTracks implements stream.TrackDescriber: the tracks the camera
// behind name published when it was last dialled, if that was within
// describedFor and the camera is still catalogued the same way.
func (p *Puller) DescribedTracks(name string) ([]stream.TrackStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.known[name]
	if !ok || time.Since(d.at) > describedFor {
		// Kept for the cameras pages, which show the last codecs seen.
		return nil, false
	}
	return append([]stream.TrackStatus(nil), d.tracks...), true
}

// summaryOf returns the summary (see described.summary) of the camera
// behind name as last described; ok is false if it never was.
func (p *Puller) summaryOf(name string) (codecs []string, every *bool, some []stream.TrackStatus, ok bool) {
	p.mu.Lock()
	d, ok := p.known[name]
	p.mu.Unlock()
	if !ok {
		return nil, nil, nil, false
	}
	codecs, every, some = d.summary()
	return codecs, every, some, true
}

// forget drops what is remembered of a camera (its entry changed).
func (p *Puller) forget(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.known[name]; ok {
		delete(p.known, name)
		p.saveKnown()
	}
}

var _ stream.TrackDescriber = (*Puller)(nil)

// everyBrowser are the codecs every current browser decodes over WebRTC
// (RFC 7742 makes VP8 and H.264 mandatory, but Firefox gets H.264 from a
// plugin it downloads at run time, which offline installs lack).
var everyBrowser = []string{"video/vp8", "audio/opus", "audio/pcmu", "audio/pcma"}

// codecName is a track's kind and codec as the device list shows it
// ("video H265", "audio AAC").
func codecName(t stream.TrackStatus) string {
	return t.Kind.String() + " " + t.Codec.Name()
}

// summary returns the described codecs for the device list, whether
// every browser plays them all, and the tracks some browsers cannot play.
func (d described) summary() ([]string, *bool, []stream.TrackStatus) {
	all := true
	out := make([]string, 0, len(d.tracks))
	var some []stream.TrackStatus
	for _, t := range d.tracks {
		out = append(out, codecName(t))
		ok := false
		for _, c := range everyBrowser {
			ok = ok || strings.EqualFold(c, t.Codec.MimeType)
		}
		if !ok {
			some = append(some, t)
		}
		all = all && ok
	}
	return out, &all, some
}
