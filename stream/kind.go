package stream

import (
	"strconv"
	"strings"
)

// Kind is the media kind of a track.
type Kind uint8

// The media kinds. A publication has at most one track of each.
const (
	// Audio is an audio track.
	Audio Kind = iota + 1
	// Video is a video track.
	Video
)

// numKinds sizes per-kind arrays, indexed by Kind-1.
const numKinds = 2

// String returns "audio" or "video".
func (k Kind) String() string {
	switch k {
	case Audio:
		return "audio"
	case Video:
		return "video"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// valid reports whether k is Audio or Video.
func (k Kind) valid() bool { return k == Audio || k == Video }

// Codec describes a track's codec. It mirrors an SDP rtpmap/fmtp line so
// that this package needs no SDP or WebRTC import.
type Codec struct {
	// MimeType is e.g. "video/H264" or "audio/opus"; compare it with
	// strings.EqualFold.
	MimeType string
	// ClockRate is the RTP clock rate in Hz.
	ClockRate uint32
	// Channels is the number of audio channels (0 for video).
	Channels uint16
	// Fmtp is the format parameters line, e.g. "profile-level-id=42e01f".
	Fmtp string
}

// MimeAAC is the MIME type of AAC tracks in the hub (RFC 3640), which no
// browser decodes over WebRTC.
const MimeAAC = "audio/MPEG4-GENERIC"

// Name is the codec's name as people read it: "H264" for video/H264,
// "AAC" for MimeAAC, the whole MIME type when it has no slash.
func (c Codec) Name() string {
	if strings.EqualFold(c.MimeType, MimeAAC) {
		return "AAC"
	}
	if _, n, ok := strings.Cut(c.MimeType, "/"); ok {
		return n
	}
	return c.MimeType
}

// Equal reports whether c and o are the same codec: MimeType compared
// case-insensitively, ClockRate, Channels and Fmtp exactly.
func (c Codec) Equal(o Codec) bool {
	return strings.EqualFold(c.MimeType, o.MimeType) &&
		c.ClockRate == o.ClockRate && c.Channels == o.Channels && c.Fmtp == o.Fmtp
}

// TrackInfo describes a track offered to Hub.Publish.
type TrackInfo struct {
	// Kind is the track's media kind.
	Kind Kind
	// Codec is the track's codec.
	Codec Codec
	// RequestKeyframe asks the publisher for a keyframe. The hub calls it
	// coalesced (at most once per Config.KeyframeRequestInterval), never per
	// packet, and without holding its locks; it must not block. It may be
	// nil (audio).
	RequestKeyframe func()
	// Layer names one encoding of a simulcast video (its RTP stream id,
	// RFC 8851 "rid"); empty for a stream with a single encoding. A stream
	// has at most one audio track and either one video track without a
	// layer or up to MaxLayers video tracks with distinct layers, all of
	// one codec.
	Layer string
}

// MaxLayers is the most simulcast layers a stream may have.
const MaxLayers = 4
