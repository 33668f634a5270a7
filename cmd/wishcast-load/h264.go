package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pion/rtp/codecs"
)

// H.264 NAL unit types (ITU-T H.264 table 7-1, RFC 6184 section 5.2).
const (
	nalSlice = 1  // coded slice of a non-IDR picture
	nalIDR   = 5  // coded slice of an IDR picture
	nalSEI   = 6  // supplemental enhancement information
	nalSPS   = 7  // sequence parameter set
	nalPPS   = 8  // picture parameter set
	nalAUD   = 9  // access unit delimiter
	nalSTAPA = 24 // RTP aggregation packet
	nalFUA   = 28 // RTP fragmentation unit
)

// clipLength is about how long the encoded H.264 clip lasts before it
// repeats; it is rounded up to whole GOPs so that keyframes keep their
// cadence across the loop.
const clipLength = 4 * time.Second

// h264Options is the H.264 stream to encode.
type h264Options struct {
	FFmpeg        string // the ffmpeg executable (a name on PATH or a path)
	Width, Height int
	FPS, GOP      int
	Bitrate       int // bits/s asked of the encoder
	Packet        int // largest RTP payload, bytes
}

// clipFrames is how many frames the clip has: clipLength at FPS, rounded
// up to whole GOPs.
func (o h264Options) clipFrames() int {
	n := int(clipLength.Seconds() * float64(o.FPS))
	return max(1, (n+o.GOP-1)/o.GOP) * o.GOP
}

// h264Source loops a clip of real H.264, packetized once at start by
// pion's H.264 payloader: SPS and PPS in a STAP-A before every IDR,
// FU-A for the NAL units larger than a packet.
type h264Source struct {
	fps    int
	frames [][][]byte // the clip's frames, each its packets' payloads
	bytes  int        // payload bytes in the clip
	count  int        // packets in the clip
}

// frame implements source: frame n is the clip's frame n modulo its
// length.
func (s *h264Source) frame(n int, emit func([]byte, bool)) {
	f := s.frames[n%len(s.frames)]
	for i, p := range f {
		emit(p, i == len(f)-1)
	}
}

// packetsPerFrame implements source.
func (s *h264Source) packetsPerFrame() float64 {
	return float64(s.count) / float64(len(s.frames))
}

// bitrate implements source.
func (s *h264Source) bitrate() int {
	return int(int64(s.bytes) * 8 * int64(s.fps) / int64(len(s.frames)))
}

// newH264Source encodes the clip with FFmpeg (libx264, from lavfi's
// testsrc2) into an Annex-B file in a temporary directory, reads it back,
// removes the directory and packetizes the clip.
func newH264Source(ctx context.Context, o h264Options) (*h264Source, error) {
	annexB, err := encodeH264(ctx, o)
	if err != nil {
		return nil, err
	}
	frames, err := packetizeH264(annexB, o.Packet)
	if err != nil {
		return nil, err
	}
	s := &h264Source{fps: o.FPS, frames: frames}
	for _, f := range frames {
		s.count += len(f)
		for _, p := range f {
			s.bytes += len(p)
		}
	}
	return s, nil
}

// encodeH264 runs FFmpeg once and returns the clip as an Annex-B byte
// stream. The settings are those of a live encoder: ultrafast, no
// B-frames, no lookahead, one slice a frame, a fixed GOP with no scene-cut
// keyframes, the rate capped at the bitrate with a half-second buffer,
// and SPS and PPS before every IDR.
func encodeH264(ctx context.Context, o h264Options) ([]byte, error) {
	bin, err := exec.LookPath(o.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("-codec h264 needs FFmpeg with libx264 (apt-get install ffmpeg, or -ffmpeg PATH): %w", err)
	}
	dir, err := os.MkdirTemp("", "wishcast-load-h264-")
	if err != nil {
		return nil, fmt.Errorf("h264 clip: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "clip.h264")
	rate := strconv.Itoa(o.Bitrate)
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", o.Width, o.Height, o.FPS),
		"-frames:v", strconv.Itoa(o.clipFrames()),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", strconv.Itoa(o.GOP), "-keyint_min", strconv.Itoa(o.GOP), "-sc_threshold", "0", "-bf", "0",
		"-b:v", rate, "-maxrate", rate, "-bufsize", strconv.Itoa(o.Bitrate / 2),
		"-x264-params", "sliced-threads=0:repeat-headers=1",
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", "-y", out,
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 600 {
			msg = "..." + msg[len(msg)-600:]
		}
		return nil, fmt.Errorf("h264 clip: %s: %w: %s", bin, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("h264 clip: %w", err)
	}
	return b, nil
}

// splitNALs returns the NAL units of an Annex-B byte stream, without
// their start codes (and without the zero byte of a four-byte start code,
// which a three-byte search leaves at the end of the NAL unit before).
func splitNALs(b []byte) [][]byte {
	var nals [][]byte
	sc := []byte{0, 0, 1}
	i := bytes.Index(b, sc)
	for i >= 0 {
		start := i + len(sc)
		next := bytes.Index(b[start:], sc)
		end := len(b)
		if next >= 0 {
			end = start + next
		}
		nal := bytes.TrimRight(b[start:end], "\x00")
		if len(nal) > 0 {
			nals = append(nals, nal)
		}
		if next < 0 {
			break
		}
		i = end
	}
	return nals
}

// accessUnits groups NAL units into access units (frames), by the rules
// of H.264 section 7.4.1.2.3 that an encoder's output needs: a frame that
// already holds a slice ends at an AUD, SEI, SPS or PPS, or at a slice
// whose first_mb_in_slice is 0 (its first bit is then 1, ue(v) for 0).
func accessUnits(nals [][]byte) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	hasSlice := false
	for _, n := range nals {
		t := n[0] & 0x1f
		slice := t >= nalSlice && t <= nalIDR
		starts := t == nalAUD || t == nalSEI || t == nalSPS || t == nalPPS ||
			(slice && len(n) > 1 && n[1]&0x80 != 0)
		if hasSlice && starts {
			aus = append(aus, cur)
			cur, hasSlice = nil, false
		}
		cur = append(cur, n)
		hasSlice = hasSlice || slice
	}
	if hasSlice {
		aus = append(aus, cur)
	}
	return aus
}

// packetizeH264 turns an Annex-B stream into RTP payloads, frame by
// frame. An IDR frame without its own SPS and PPS gets the last ones seen,
// so that every keyframe can be decoded on its own; the stream must start
// with a keyframe.
func packetizeH264(annexB []byte, mtu int) ([][][]byte, error) {
	aus := accessUnits(splitNALs(annexB))
	if len(aus) == 0 {
		return nil, errors.New("h264 clip: no frames")
	}
	var payloader codecs.H264Payloader
	var sps, pps []byte
	frames := make([][][]byte, 0, len(aus))
	for i, au := range aus {
		var hasSPS, hasPPS, idr bool
		for _, n := range au {
			switch n[0] & 0x1f {
			case nalSPS:
				sps, hasSPS = n, true
			case nalPPS:
				pps, hasPPS = n, true
			case nalIDR:
				idr = true
			}
		}
		if i == 0 && (!idr || sps == nil || pps == nil) {
			return nil, errors.New("h264 clip: the stream does not start with SPS, PPS and an IDR frame")
		}
		var stream []byte
		if idr && !hasPPS {
			au = append([][]byte{pps}, au...)
		}
		if idr && !hasSPS {
			au = append([][]byte{sps}, au...)
		}
		for _, n := range au {
			stream = append(stream, 0, 0, 0, 1)
			stream = append(stream, n...)
		}
		frame := payloader.Payload(uint16(mtu), stream)
		if len(frame) == 0 {
			return nil, fmt.Errorf("h264 clip: frame %d has no payload", i)
		}
		frames = append(frames, frame)
	}
	return frames, nil
}

// isH264KeyStart reports whether the RTP packet p starts an IDR picture:
// an IDR NAL unit on its own, a STAP-A holding one, or the first fragment
// of an FU-A of one (RFC 6184 section 5).
func isH264KeyStart(p []byte) bool {
	off, ok := rtpPayloadOffset(p)
	if !ok || len(p) <= off {
		return false
	}
	pl := p[off:]
	switch pl[0] & 0x1f {
	case nalIDR:
		return true
	case nalFUA:
		return len(pl) > 1 && pl[1]&0x80 != 0 && pl[1]&0x1f == nalIDR
	case nalSTAPA:
		for i := 1; i+2 < len(pl); {
			size := int(pl[i])<<8 | int(pl[i+1])
			if size == 0 {
				return false
			}
			if pl[i+2]&0x1f == nalIDR {
				return true
			}
			i += 2 + size
		}
	}
	return false
}
