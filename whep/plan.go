package whep

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// MediaHeader is the WHEP answer's header that says what the viewer gets
// for each kind and, for a transcoded track, from what:
// "video=VP8;from=H264, audio=opus". Players show it with their stats.
const MediaHeader = "Wishcast-Media"

// pick is one track of a viewer's plan: a stream track sent as it is, or
// through the transcode named via.
type pick struct {
	idx    int          // the stream track, in the tracks planned from
	via    string       // the transcode's hub name; "" for the track itself
	target stream.Codec // what the transcode makes
}

// plan pairs the stream's tracks with the offer's m-lines. A track whose
// kind the offer has but whose codec it lacks goes through a transcode
// into a codec the offer has, when one exists and can start; else it is a
// 422 naming both sides (the viewer cannot be renegotiated later) and
// what transcoding lacks. AAC audio, which no browser plays over WebRTC,
// is left out when it cannot be transcoded, so its video still plays.
// Nothing in common is a 422 too.
func (h *Handler) plan(name string, offer *session.Offer, tracks []stream.TrackStatus) ([]pick, error) {
	var picks []pick
	var have []string
	for i, t := range tracks {
		c := t.Codec
		have = append(have, t.Kind.String()+" "+codecName(c.MimeType))
		m := offer.Kind(t.Kind.String())
		if m == nil {
			continue
		}
		if m.Offers(c.MimeType, c.Fmtp) {
			picks = append(picks, pick{idx: i})
			continue
		}
		p, why := h.transcodeFor(name, m, c)
		if p != nil {
			p.idx = i
			picks = append(picks, *p)
			continue
		}
		if t.Kind == stream.Audio && strings.EqualFold(c.MimeType, stream.MimeAAC) {
			h.log.Info("viewer gets no audio: AAC cannot be played", "stream", name, "why", why)
			continue
		}
		detail := fmt.Sprintf("stream %q sends %s %s; the offer's %s section has %s", name, t.Kind, codecName(c.MimeType), m.Kind, strings.Join(m.CodecNames(), ", "))
		if why != "" {
			detail += "; " + why
		}
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "%s", detail)
	}
	if len(picks) == 0 {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "stream %q has %s; the offer asks for none of it", name, strings.Join(have, " and "))
	}
	return picks, nil
}

// transcodeFor returns the transcode of codec c into a codec section m
// offers, or nil and why there is none ("" if transcoding is not
// configured or knows no such transcode).
func (h *Handler) transcodeFor(name string, m *session.Media, c stream.Codec) (*pick, string) {
	if h.tc == nil {
		return nil, ""
	}
	why := ""
	for _, target := range h.tc.Targets(c) {
		if !m.Offers(target.MimeType, target.Fmtp) {
			continue
		}
		via, ok := h.tc.Name(name, c, target)
		if !ok {
			continue
		}
		if err := h.tc.Check(via); err != nil {
			why = "it cannot be transcoded to " + codecName(target.MimeType) + ": " + err.Error()
			continue
		}
		return &pick{via: via, target: target}, ""
	}
	return nil, why
}

// resolve turns picks into the tracks to send: transcodes are acquired
// (started by the first viewer who needs them, waiting for their first
// packet); their leases are returned to be released with the session.
func (h *Handler) resolve(r *http.Request, name string, picks []pick, tracks []*stream.Track) ([]*stream.Track, []*stream.Lease, error) {
	var out []*stream.Track
	var leases []*stream.Lease
	fail := func(err error) ([]*stream.Track, []*stream.Lease, error) {
		for _, l := range leases {
			l.Release()
		}
		return nil, nil, err
	}
	for _, p := range picks {
		if p.via == "" {
			out = append(out, tracks[p.idx])
			continue
		}
		l, err := h.hub.Acquire(r.Context(), p.via)
		if err != nil {
			return fail(notLive(name, fmt.Errorf("transcoding %s to %s: %w", codecName(tracks[p.idx].Codec().MimeType), codecName(p.target.MimeType), err)))
		}
		leases = append(leases, l)
		var got *stream.Track
		for _, t := range l.Tracks() {
			if t.Kind() == tracks[p.idx].Kind() {
				got = t
			}
		}
		if got == nil {
			return fail(notLive(name, fmt.Errorf("%w: the transcode has no %s track", stream.ErrNotLive, tracks[p.idx].Kind())))
		}
		h.log.Info("viewer gets a transcoded track", "stream", name, "from", tracks[p.idx].Codec().MimeType, "to", got.Codec().MimeType)
		out = append(out, got)
	}
	return out, leases, nil
}

// transcodedVideo reports whether the plan's video goes through a
// transcode (which has no simulcast layers).
func transcodedVideo(picks []pick, tracks []*stream.Track) bool {
	for _, p := range picks {
		if p.via != "" && tracks[p.idx].Kind() == stream.Video {
			return true
		}
	}
	return false
}

// mediaHeader is the value of MediaHeader for a plan.
func mediaHeader(picks []pick, tracks, sent []*stream.Track) string {
	var parts []string
	for i, p := range picks {
		v := sent[i].Kind().String() + "=" + codecName(sent[i].Codec().MimeType)
		if p.via != "" {
			v += ";from=" + codecName(tracks[p.idx].Codec().MimeType)
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, ", ")
}
