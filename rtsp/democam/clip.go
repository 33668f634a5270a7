package democam

import (
	_ "embed" // the demo clip
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// The demo clip, made by clip/make-clip.sh.
var (
	//go:embed clip/clip.h264
	clipH264 []byte
	//go:embed clip/clip.opus
	clipOpus []byte
)

// Clock rates of the RTP formats (RFC 6184 section 8.2.1, RFC 7587
// section 4.1).
const (
	videoClockRate = 90000
	audioClockRate = 48000
)

// defaultFPS is the frame rate used when the SPS carries no timing info.
const defaultFPS = 25

// unit is one access unit or audio packet of the clip.
type unit struct {
	offset uint64   // in clock ticks from the start of the clip
	nalus  [][]byte // H.264: the access unit, AUD removed
	opus   []byte   // Opus: the packet
}

// clip is the parsed demo clip, ready to be paced out in a loop.
type clip struct {
	sps, pps      []byte
	width, height int
	fps           int
	frames        int // video frames in one loop
	channels      int // Opus channel count
	video         []unit
	audio         []unit
	// period is the loop length: the video's duration. In clock ticks it
	// is frames*videoClockRate/fps and frames*audioClockRate/fps.
	period time.Duration
}

// videoPeriod returns the loop length in 90 kHz ticks.
func (c *clip) videoPeriod() uint64 {
	return uint64(c.frames) * videoClockRate / uint64(c.fps)
}

// audioPeriod returns the loop length in 48 kHz ticks.
func (c *clip) audioPeriod() uint64 {
	return uint64(c.frames) * audioClockRate / uint64(c.fps)
}

// loadClip parses the H.264 and Ogg Opus files of a clip. When maxFrames
// is above zero, only the first maxFrames video frames (and the audio of
// that time) are kept, which makes a short loop for tests.
//
// The video must start with an IDR access unit carrying SPS and PPS. An
// IDR access unit that lacks them gets the last ones seen, so that every
// IDR on the wire is decodable on its own. Audio packets past the end of
// the video are dropped, so that both loop with the same period.
func loadClip(h264Data, opusData []byte, maxFrames int) (*clip, error) {
	aus, err := parseAnnexB(h264Data)
	if err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	if maxFrames > 0 && len(aus) > maxFrames {
		aus = aus[:maxFrames]
	}
	c := &clip{}
	for i, au := range aus {
		var out [][]byte
		idr, hasSPS, hasPPS, vcl := false, false, false, false
		for _, n := range au {
			switch naluType(n) {
			case naluAUD:
				continue // the RTP marker bit delimits access units
			case naluSPS:
				c.sps, hasSPS = n, true
			case naluPPS:
				c.pps, hasPPS = n, true
			case naluIDR:
				idr, vcl = true, true
			case naluNonIDR, 2, 3, 4:
				vcl = true
			}
			out = append(out, n)
		}
		if !vcl {
			return nil, fmt.Errorf("video: access unit %d has no slice", i)
		}
		if i == 0 && !idr {
			return nil, errors.New("video: the first access unit is not an IDR")
		}
		if idr && (c.sps == nil || c.pps == nil) {
			return nil, errors.New("video: IDR without SPS and PPS")
		}
		if idr && !hasPPS {
			out = append([][]byte{c.pps}, out...)
		}
		if idr && !hasSPS {
			out = append([][]byte{c.sps}, out...)
		}
		c.video = append(c.video, unit{nalus: out})
	}
	if len(c.video) == 0 {
		return nil, errors.New("video: no access units")
	}

	var sps h264.SPS
	if err := sps.Unmarshal(c.sps); err != nil {
		return nil, fmt.Errorf("video: SPS: %w", err)
	}
	c.width, c.height = sps.Width(), sps.Height()
	c.fps = defaultFPS
	if f := sps.FPS(); f >= 1 && f <= 120 && f == float64(int(f)) {
		c.fps = int(f)
	}
	c.frames = len(c.video)
	for i := range c.video {
		c.video[i].offset = uint64(i) * videoClockRate / uint64(c.fps)
	}
	c.period = time.Duration(c.frames) * time.Second / time.Duration(c.fps)

	o, err := parseOggOpus(opusData)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	if o.channels > 2 {
		return nil, fmt.Errorf("audio: %d channels, want 1 or 2", o.channels)
	}
	c.channels = o.channels
	var at uint64
	for _, p := range o.packets {
		n := opusSamples(p)
		if n == 0 {
			continue // malformed, or empty: nothing to play
		}
		if at+uint64(n) > c.audioPeriod() {
			break
		}
		c.audio = append(c.audio, unit{offset: at, opus: p})
		at += uint64(n)
	}
	return c, nil
}
