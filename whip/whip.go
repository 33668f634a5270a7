// Package whip is the WHIP endpoint (RFC 9725): POST /whip/{stream} takes a
// publisher's offer, and the publisher's tracks are read into the stream
// hub. Trickle ICE, ICE restart and DELETE go through the session resource
// shared with WHEP.
package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// Options are what the WHIP endpoint needs.
type Options struct {
	Sessions *session.Manager
	Hub      *stream.Hub
	Log      *slog.Logger
	// Authorize decides whether a request may publish a stream and returns
	// the owner to record on the session; nil allows everyone.
	Authorize func(r *http.Request, action, stream string) (owner string, err error)
	// Claim, if set, takes the stream for this publisher beyond this
	// server (several nodes) before it is published; release is called
	// once the publication has ended. An error wrapping
	// stream.ErrPublisherExists answers 409, as a publisher here does.
	Claim func(ctx context.Context, stream string) (release func(), err error)
}

// Handler is the WHIP endpoint.
type Handler struct {
	sessions *session.Manager
	hub      *stream.Hub
	log      *slog.Logger
	auth     func(r *http.Request, action, stream string) (string, error)
	claim    func(ctx context.Context, stream string) (func(), error)
}

// New returns a WHIP endpoint.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sessions: o.Sessions, hub: o.Hub, log: o.Log, auth: o.Authorize, claim: o.Claim}
}

// Endpoint returns the HTTP handler of /whip/{stream}; name extracts the
// stream name from the request.
func (h *Handler) Endpoint(name func(*http.Request) string) http.Handler {
	return h.sessions.Endpoint(session.Endpoint{
		Protocol:   "WHIP",
		Directions: []string{"sendonly", "sendrecv"},
		Authorize:  h.authorize,
		Create:     h.create,
	}, name)
}

// create publishes name from a checked offer: one codec chosen per m-line,
// the stream slot taken, the answer written.
// authorize applies the configured access rule for the publish action.
func (h *Handler) authorize(r *http.Request, name string) (string, error) {
	if h.auth == nil {
		return "", nil
	}
	return h.auth(r, "publish", name)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, name string, offer *session.Offer, res *session.Reservation) error {
	if err := stream.ValidateName(name); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	chosen := map[string]session.OfferedCodec{}
	var infos []stream.TrackInfo
	pub := &publisher{ssrcs: map[string]*atomic.Uint32{}}
	for i := range offer.Media {
		m := &offer.Media[i]
		c, ok := session.PickCodec(m)
		if !ok {
			return httpx.Errorf(http.StatusUnprocessableEntity, "the %s section offers %s; wishcast forwards %s",
				m.Kind, orNone(m.CodecNames()), strings.Join(session.Forwardable(m.Kind), ", "))
		}
		chosen[m.Mid] = c
		codec := stream.Codec{MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels, Fmtp: c.Fmtp}
		switch {
		case m.Kind == "audio" && m.Simulcast:
			return httpx.Errorf(http.StatusUnprocessableEntity, "the audio section offers simulcast; wishcast takes simulcast video only")
		case m.Kind == "audio":
			infos = append(infos, stream.TrackInfo{Kind: stream.Audio, Codec: codec})
		case m.Simulcast && len(m.RIDs) == 0:
			return httpx.Errorf(http.StatusUnprocessableEntity, "the video section has a=rid lines but none to send (a=rid:<id> send)")
		case m.Simulcast:
			// More layers than the hub keeps: the answer accepts the first
			// ones, rather than refusing what fewer layers would do.
			if err := offer.LimitRIDs(m.Mid, stream.MaxLayers); err != nil {
				return fmt.Errorf("simulcast offer: %w", err)
			}
			for _, rid := range m.RIDs {
				infos = append(infos, stream.TrackInfo{Kind: stream.Video, Codec: codec, Layer: rid, RequestKeyframe: pub.keyframeRequester(rid)})
			}
		default:
			infos = append(infos, stream.TrackInfo{Kind: stream.Video, Codec: codec, RequestKeyframe: pub.keyframeRequester("")})
		}
	}
	release := func() {}
	if h.claim != nil {
		rel, err := h.claim(r.Context(), name)
		switch {
		case errors.Is(err, stream.ErrPublisherExists):
			return &httpx.Error{Status: http.StatusConflict, Detail: fmt.Sprintf("stream %q already has a publisher", name), RetryAfter: 5 * time.Second}
		case err != nil:
			return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "cannot publish now", RetryAfter: 5 * time.Second, Err: err}
		}
		release = rel
	}
	publication, err := h.hub.Publish(name, infos)
	if err != nil {
		release()
	}
	switch {
	case errors.Is(err, stream.ErrPublisherExists):
		return &httpx.Error{Status: http.StatusConflict, Detail: fmt.Sprintf("stream %q already has a publisher", name), RetryAfter: 5 * time.Second}
	case errors.Is(err, stream.ErrInvalidName):
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	case err != nil:
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "cannot publish now", RetryAfter: 5 * time.Second, Err: err}
	}
	sess, err := res.New(name)
	if err != nil {
		publication.Close()
		release()
		return err
	}
	pub.sess, pub.publication, pub.start, pub.release = sess, publication, time.Now(), release
	sess.OnClose(pub.close)
	sess.PC.OnTrack(pub.onTrack)
	go pub.watch(h.sessions.Config().PublisherGone)

	answer, err := sess.Answer(r.Context(), offer, func() error { return preferChosen(sess, chosen) })
	if err != nil {
		sess.Close(session.ReasonRejected)
		return err
	}
	h.sessions.WriteCreated(w, sess, answer)
	sess.Log.Info("publisher session created", "offer", offer.String())
	return nil
}

// preferChosen limits each transceiver to the one codec chosen for its
// m-line, so the stream's codec is known before media flows, and makes the
// answer recvonly (RFC 9725 §4.2).
func preferChosen(sess *session.Session, chosen map[string]session.OfferedCodec) error {
	for _, t := range sess.PC.GetTransceivers() {
		c, ok := chosen[t.Mid()]
		if !ok {
			continue
		}
		if err := t.SetCodecPreferences([]webrtcCodec{c.Parameters()}); err != nil {
			return httpx.Errorf(http.StatusUnprocessableEntity, "cannot use %s: %v", c.MimeType, err)
		}
	}
	return nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no codec"
	}
	return strings.Join(names, ", ")
}
