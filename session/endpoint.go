package session

import (
	"net/http"
	"strings"

	"github.com/wishcast/wishcast/httpx"
)

// endpointAllow lists the methods of a WHIP or WHEP endpoint.
const endpointAllow = "OPTIONS, GET, HEAD, POST"

// Endpoint describes a WHIP or WHEP endpoint; the shared HTTP rules live in
// Manager.Endpoint, the media work in Create.
type Endpoint struct {
	// Protocol names the endpoint in messages ("WHIP", "WHEP").
	Protocol string
	// Directions are the m-line directions an offer may use.
	Directions []string
	// HeadSDP makes HEAD answer 200 with Content-Type application/sdp, the
	// way WHEP players discover endpoints (WHEP §4.2).
	HeadSDP bool
	// Authorize, if set, decides whether the request may do this
	// endpoint's action on stream name, before anything else of the POST
	// is looked at; it returns the owner to record on the new session
	// ("" for anonymous) or an error to answer with (401, 403, 400).
	Authorize func(r *http.Request, name string) (owner string, err error)
	// Create handles a checked offer for stream name and writes the 201
	// (with Manager.WriteCreated) or returns an error. res is the slot the
	// caps granted the session (its creator: the owner Authorize returned
	// and the client's address group): Create makes the session with
	// res.New once the stream is ready, and need not release it.
	Create func(w http.ResponseWriter, r *http.Request, name string, offer *Offer, res *Reservation) error
}

// Endpoint returns the handler of a WHIP or WHEP endpoint: POST of an SDP
// offer (415 for other media types, 413 past the size cap, 400/422 for bad
// offers), OPTIONS with Accept-Post, GET and HEAD with no content, and 405
// with Allow for anything else. name extracts the stream name.
func (m *Manager) Endpoint(e Endpoint, name func(*http.Request) string) http.Handler {
	return httpx.Handle(m.log, func(w http.ResponseWriter, r *http.Request) error {
		h := w.Header()
		switch r.Method {
		case http.MethodOptions:
			h.Set("Accept-Post", "application/sdp")
			h.Set("Allow", endpointAllow)
			w.WriteHeader(http.StatusOK)
			return nil
		case http.MethodGet:
			w.WriteHeader(http.StatusNoContent)
			return nil
		case http.MethodHead:
			if e.HeadSDP {
				h.Set("Content-Type", "application/sdp")
				w.WriteHeader(http.StatusOK)
				return nil
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		case http.MethodPost:
		default:
			return httpx.Errorf(http.StatusMethodNotAllowed, "method %s not allowed on a %s endpoint", r.Method, e.Protocol).
				WithHeader("Allow", endpointAllow)
		}
		owner := ""
		if e.Authorize != nil {
			var err error
			if owner, err = e.Authorize(r, name(r)); err != nil {
				return err
			}
		}
		if !httpx.MediaTypeIs(r, "application/sdp") {
			return httpx.Errorf(http.StatusUnsupportedMediaType, "%s takes an SDP offer with Content-Type application/sdp", e.Protocol).
				WithHeader("Accept-Post", "application/sdp")
		}
		body, err := httpx.ReadBody(w, r, m.cfg.MaxOfferBytes)
		if err != nil {
			return err
		}
		offer, err := ParseOffer(body)
		if err != nil {
			return err
		}
		if err := offer.RequireDirections(e.Protocol, e.Directions...); err != nil {
			return err
		}
		// The caps come before anything that touches the hub.
		res, err := m.Reserve(strings.ToLower(e.Protocol), Creator{Owner: owner, Client: m.ClientOf(r)})
		if err != nil {
			return err
		}
		defer res.Release()
		return e.Create(w, r, name(r), offer, res)
	})
}
