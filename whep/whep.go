// Package whep is the WHEP endpoint (draft-ietf-wish-whep): POST
// /whep/{stream} takes a viewer's offer and answers with the stream's
// tracks, fed from the stream hub. Trickle ICE, ICE restart and DELETE go
// through the session resource shared with WHIP.
package whep

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// Options are what the WHEP endpoint needs.
type Options struct {
	Sessions *session.Manager
	Hub      *stream.Hub
	Log      *slog.Logger
	// Authorize decides whether a request may view a stream and returns
	// the owner to record on the session; nil allows everyone.
	Authorize func(r *http.Request, action, stream string) (owner string, err error)
	// Transcoder, if set, serves viewers whose offers lack a stream's
	// codec with a transcode of the track into one they have.
	Transcoder Transcoder
}

// Transcoder makes a track a viewer cannot decode into one it can; see
// package transcode.
type Transcoder interface {
	// Targets lists the codecs a track of codec c can become, best first.
	Targets(c stream.Codec) []stream.Codec
	// Name returns the hub name of source's track of codec from
	// transcoded into target, and whether that transcode exists.
	Name(source string, from, target stream.Codec) (string, bool)
	// Check says why the transcode name cannot start now (nil if it can,
	// or runs already).
	Check(name string) error
}

// Handler is the WHEP endpoint.
type Handler struct {
	sessions *session.Manager
	hub      *stream.Hub
	log      *slog.Logger
	auth     func(r *http.Request, action, stream string) (string, error)
	tc       Transcoder
	// closing is closed by Shutdown: viewers' event streams end.
	closing  chan struct{}
	shutdown sync.Once
}

// Shutdown ends the viewers' event streams (long-lived responses that an
// HTTP server's graceful shutdown would otherwise wait for).
func (h *Handler) Shutdown() { h.shutdown.Do(func() { close(h.closing) }) }

// New returns a WHEP endpoint.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sessions: o.Sessions, hub: o.Hub, log: o.Log, auth: o.Authorize, tc: o.Transcoder, closing: make(chan struct{})}
}

// Endpoint returns the HTTP handler of /whep/{stream}; name extracts the
// stream name from the request.
func (h *Handler) Endpoint(name func(*http.Request) string) http.Handler {
	return h.sessions.Endpoint(session.Endpoint{
		Protocol:   "WHEP",
		Directions: []string{"recvonly", "sendrecv"},
		HeadSDP:    true,
		Authorize:  h.authorize,
		Create:     h.create,
	}, name)
}

// streamID is the msid stream id of every viewer's tracks: one MediaStream
// (WHEP §4.6.2).
const streamID = "wishcast"

// create answers a viewer: it waits (bounded) for the stream to be live,
// checks the offer has the stream's codecs, and subscribes once connected.
// authorize applies the configured access rule for the view action.
func (h *Handler) authorize(r *http.Request, name string) (string, error) {
	if h.auth == nil {
		return "", nil
	}
	return h.auth(r, "view", name)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, name string, offer *session.Offer, res *session.Reservation) error {
	if err := stream.ValidateName(name); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	}
	// A saturated server keeps its viewers' media whole and lets new
	// viewers wait (see stream.Hub.Admit).
	if err := h.hub.Admit(); err != nil {
		return &httpx.Error{Status: http.StatusServiceUnavailable, RetryAfter: 5 * time.Second, Err: err,
			Detail: "the server is too busy to take another viewer now (the viewers already watching come first); try again shortly"}
	}
	// A source that already said what it sends (a camera's last
	// description) refuses an offer that cannot play it without being
	// started for nothing.
	if known, ok := h.hub.Expected(name); ok {
		if _, err := h.plan(name, offer, known); err != nil {
			h.refused(name, offer, known)
			return err
		}
	}
	// A source started for this viewer (a person's page) learns what it
	// decodes, to send a codec it can play.
	ctx := r.Context()
	if m := offer.Kind("video"); m != nil {
		ctx = stream.WithDecoders(ctx, m.CodecNames())
	}
	lease, err := h.hub.Acquire(ctx, name)
	if err != nil {
		return notLive(name, err)
	}
	all := lease.Tracks()
	picks, err := h.plan(name, offer, statuses(all))
	if err != nil {
		h.refused(name, offer, statuses(all))
		lease.Release()
		return err
	}
	plan, extra, err := h.resolve(r, name, picks, all)
	if err != nil {
		lease.Release()
		return err
	}
	release := func() {
		lease.Release()
		for _, l := range extra {
			l.Release()
		}
	}
	res.ViewOnly() // the answer only sends
	layered := len(lease.Layers()) > 1 && !transcodedVideo(picks, all)
	if layered {
		res.EstimateBandwidth() // the automatic layer choice follows it
	}
	sess, err := res.New(name)
	if err != nil {
		release()
		return err
	}
	sess.OnClose(release)
	ctl := &control{sess: sess, lease: lease, name: name, closing: h.closing, streams: map[string][]string{}}
	var viewers []*viewer
	for _, t := range plan {
		c := t.Codec()
		local, err := newSendTrack(webrtc.RTPCodecCapability{
			MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels, SDPFmtpLine: c.Fmtp,
		}, t.Kind().String(), streamID)
		if err != nil {
			sess.Close(session.ReasonRejected)
			return fmt.Errorf("new local track: %w", err)
		}
		tr, err := sess.PC.AddTransceiverFromTrack(local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			// Also fails when the server ended the session meanwhile
			// (its peer connection is closed): a 409, not a 500.
			sess.Close(session.ReasonRejected)
			return sess.Failed(fmt.Errorf("add transceiver: %w", err))
		}
		local.flowing = sess.MediaFlowing
		v := &viewer{sess: sess, track: t, local: local}
		if layers := lease.Layers(); t.Kind() == stream.Video && layered {
			v.layers = layers
			ctl.layers = &layerControl{v: v, mediaID: videoMediaID(offerKinds(offer)), pinned: -1}
			v.pick = ctl.layers.start
		}
		ctl.locals = append(ctl.locals, local)
		viewers = append(viewers, v)
		go v.readRTCP(tr.Sender())
	}
	// A sendrecv offer is answered sendonly (WHEP §4.3.5): pion would echo
	// sendrecv, so the viewer's direction is read as recvonly.
	if err := offer.ReadAs("sendrecv", "recvonly"); err != nil {
		sess.Close(session.ReasonRejected)
		return fmt.Errorf("viewer offer: %w", err)
	}
	// No RTX, even when offered: the server sends lost packets again on
	// the track's own SSRC with their own sequence numbers (session's NACK
	// history, which keeps a reference to the shared payload instead of
	// building an RTX packet per retransmission), and an answer with RTX
	// would announce an SSRC that never carries a packet while RFC 4588
	// expects retransmissions on it once negotiated. A player without RTX
	// takes them on the original stream, as from any sender without RTX.
	if err := offer.DropRTX(); err != nil {
		sess.Close(session.ReasonRejected)
		return fmt.Errorf("viewer offer: %w", err)
	}
	answer, err := sess.Answer(r.Context(), offer, func() error {
		if err := onlyStreamCodecs(sess, offer, viewers); err != nil {
			return &httpx.Error{Status: http.StatusInternalServerError, Detail: "the server could not limit its answer to the stream's codecs; this is a bug worth reporting", Err: err}
		}
		return nil
	})
	if err != nil {
		sess.Close(session.ReasonRejected)
		return err
	}
	sess.OnConnected(func() {
		for _, v := range viewers {
			v.start()
		}
	})
	sess.SetExtension("sse", ctl.serveEvents)
	if ctl.layers != nil {
		sess.SetExtension("layer", ctl.layers.serve)
	}
	for _, l := range ctl.links() {
		w.Header().Add("Link", l)
	}
	w.Header().Set(MediaHeader, mediaHeader(picks, all, plan))
	ctl.watch()
	if ctl.layers != nil {
		go ctl.layers.run()
	}
	h.sessions.WriteCreated(w, sess, answer)
	sess.Log.Info("viewer session created", "offer", offer.String())
	return nil
}

// refused logs a viewer refused for its codecs.
func (h *Handler) refused(name string, offer *session.Offer, tracks []stream.TrackStatus) {
	h.log.Info("viewer refused: the offer cannot play the stream's codecs", "stream", name,
		"stream_codecs", streamCodecs(tracks), "offer_codecs", offerCodecs(offer))
}

// statuses returns the kinds and codecs of tracks.
func statuses(tracks []*stream.Track) []stream.TrackStatus {
	out := make([]stream.TrackStatus, len(tracks))
	for i, t := range tracks {
		out[i] = stream.TrackStatus{Kind: t.Kind(), Codec: t.Codec(), Layer: t.Layer()}
	}
	return out
}

// offerKinds lists the kinds of the offer's m-lines in order.
func offerKinds(o *session.Offer) []string {
	out := make([]string, len(o.Media))
	for i, m := range o.Media {
		out[i] = m.Kind
	}
	return out
}

// onlyStreamCodecs limits each sending transceiver to the offered codecs
// that match its stream track, so the answer names only
// what the viewer will get. match checked that every planned track has
// one; a transceiver that still cannot be limited is a server fault, not
// an answer listing codecs the stream never sends.
func onlyStreamCodecs(sess *session.Session, offer *session.Offer, viewers []*viewer) error {
	for _, v := range viewers {
		t := transceiverOf(sess, v.local)
		if t == nil {
			return fmt.Errorf("no transceiver sends the %s track", v.track.Kind())
		}
		m := offer.Kind(v.track.Kind().String())
		c := v.track.Codec()
		var prefs []webrtc.RTPCodecParameters
		if m != nil {
			prefs = m.Matching(c.MimeType, c.Fmtp)
		}
		if len(prefs) == 0 {
			return fmt.Errorf("the offer's %s section has no payload type for %s", v.track.Kind(), c.MimeType)
		}
		if err := t.SetCodecPreferences(prefs); err != nil {
			return fmt.Errorf("limit the %s answer to %s: %w", v.track.Kind(), c.MimeType, err)
		}
	}
	return nil
}

// transceiverOf returns the transceiver of sess that sends local, or nil.
func transceiverOf(sess *session.Session, local *sendTrack) *webrtc.RTPTransceiver {
	for _, t := range sess.PC.GetTransceivers() {
		if s := t.Sender(); s != nil && s.Track() == webrtc.TrackLocal(local) {
			return t
		}
	}
	return nil
}

// notLive maps a hub error to 409 + Retry-After (WHEP §4.3.8), 503 when
// the source's own dependencies failed, or 400.
func notLive(name string, err error) error {
	var nle *stream.NotLiveError
	switch {
	case errors.Is(err, stream.ErrSourceUnavailable) && errors.As(err, &nle):
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: fmt.Sprintf("stream %q cannot be started now: %s", name, nle.Reason), RetryAfter: 5 * time.Second, Err: err}
	case errors.As(err, &nle):
		ra := nle.RetryAfter
		if ra <= 0 {
			ra = 5 * time.Second
		}
		return &httpx.Error{Status: http.StatusConflict, Detail: fmt.Sprintf("stream %q is not live: %s", name, nle.Reason), RetryAfter: ra, Err: err}
	case errors.Is(err, stream.ErrNotLive):
		return &httpx.Error{Status: http.StatusConflict, Detail: fmt.Sprintf("stream %q is not live", name), RetryAfter: 5 * time.Second, Err: err}
	case errors.Is(err, stream.ErrInvalidName):
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	default:
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "cannot view now", RetryAfter: 5 * time.Second, Err: err}
	}
}

// offerCodecs lists the offer's codecs by kind, for logs.
func offerCodecs(offer *session.Offer) []string {
	var out []string
	for _, m := range offer.Media {
		out = append(out, m.Kind+" "+strings.Join(m.CodecNames(), ","))
	}
	return out
}

// streamCodecs lists tracks' codecs, for logs.
func streamCodecs(tracks []stream.TrackStatus) []string {
	out := make([]string, len(tracks))
	for i, t := range tracks {
		out[i] = t.Kind.String() + " " + codecName(t.Codec.MimeType)
	}
	return out
}

// codecName is the name of the codec of MIME type mime, for logs.
func codecName(mime string) string {
	return stream.Codec{MimeType: mime}.Name()
}
