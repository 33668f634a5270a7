package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/wishcast/wishcast/httpx"
)

// Session is one WebRTC peer connection exposed as the resource
// /sessions/{id}, publisher or viewer alike.
type Session struct {
	// ID is the unguessable resource id (128 random bits, RFC 9725 §5).
	ID string
	// Protocol names the endpoint that made the session ("whip", "whep").
	Protocol string
	// Stream is the stream name the session publishes or views.
	Stream string
	// Owner is who created the session ("" for anonymous), for deciding
	// who may PATCH and DELETE it.
	Owner string
	// Client is the address group of the client that created the session
	// (see Access.Client), which alone may change an anonymous session.
	Client string
	// PC is the session's peer connection.
	PC *webrtc.PeerConnection
	// Estimator is the peer's bandwidth estimate, for sessions reserved
	// with EstimateBandwidth; nil otherwise.
	Estimator Estimator
	// Log carries the session's attributes.
	Log *slog.Logger

	m         *Manager
	principal string // the key of the per-principal caps (Creator.principalKey)
	created   time.Time
	media     atomic.Bool // MediaFlowing was called
	limiter   *rate.Limiter
	reaper    *time.Timer
	done      chan struct{}
	closing   sync.Once

	// negotiate serialises offer/answer and ICE restarts.
	negotiate sync.Mutex

	// mu guards all following fields.
	mu          sync.Mutex
	etag        string
	remoteUfrag string
	candidates  int
	connected   bool
	closed      bool
	reason      string
	onClose     []func()
	onConnect   []func()
	ext         map[string]Extension
}

// OnConnected registers f to run once, when the peer connection first
// reaches the connected state (ICE and DTLS up, SRTP ready).
func (s *Session) OnConnected(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected {
		go f()
		return
	}
	s.onConnect = append(s.onConnect, f)
}

// ETag returns the session's current strong entity-tag, quoted.
func (s *Session) ETag() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etag
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// CloseReason says why the session ended ("" while it runs).
func (s *Session) CloseReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// OnClose registers f to run once when the session ends. If it has ended
// already, f runs at once.
func (s *Session) OnClose(f func()) {
	s.mu.Lock()
	if !s.closed {
		s.onClose = append(s.onClose, f)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	f()
}

// Close ends the session: the peer connection is closed (DTLS
// close_notify, ICE consent stops), the resource disappears and the OnClose
// functions run. It is idempotent; reason is kept from the first call.
func (s *Session) Close(reason string) {
	s.closing.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.reason = reason
		wasPending := !s.connected
		fns := s.onClose
		s.onClose = nil
		s.mu.Unlock()
		s.reaper.Stop()
		s.m.remove(s, wasPending, reason)
		if err := s.PC.Close(); err != nil {
			s.Log.Debug("close peer connection", "err", err)
		}
		for i := len(fns) - 1; i >= 0; i-- {
			fns[i]()
		}
		close(s.done)
		s.Log.Info("session closed", "reason", reason)
	})
}

func (s *Session) onState(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		s.mu.Lock()
		first := !s.connected && !s.closed
		s.connected = true
		fns := s.onConnect
		s.onConnect = nil
		s.mu.Unlock()
		if first {
			s.reaper.Stop()
			s.m.connected(s)
			s.Log.Info("session connected")
			for _, f := range fns {
				f()
			}
		}
	case webrtc.PeerConnectionStateFailed:
		// pion does not free a failed connection by itself.
		go s.Close(ReasonFailed)
	case webrtc.PeerConnectionStateClosed:
		go s.Close(ReasonClosed)
	}
}

// Close reasons, also used as metric label values.
const (
	ReasonDeleted  = "deleted"          // DELETE by the client
	ReasonReaped   = "reaped"           // never connected in time
	ReasonFailed   = "failed"           // ICE or DTLS failed
	ReasonClosed   = "closed"           // the peer connection closed
	ReasonServer   = "closed_by_server" // the server ended it (stream gone, shutdown)
	ReasonRejected = "rejected"         // negotiation failed
	ReasonRevoked  = "revoked"          // its key was revoked or its user disabled
	// Reasons callers of Manager.CloseWhere give.
	ReasonNoViewers = "no_viewers"     // an on-demand publisher nobody watches any more
	ReasonCallEnded = "call_ended"     // the call the session belonged to ended
	ReasonDevice    = "device_changed" // the camera was changed or removed
	ReasonGone      = "publisher_gone" // a publisher stopped sending and answering (killed, cable pulled)
)

// Answer applies an offer and returns the complete answer: every candidate
// gathered (no server trickle, RFC 9725 §4.3.2), a=end-of-candidates and
// a=rtcp-mux-only. prepare, if not nil, runs between the remote and the
// local description, to choose codecs or attach tracks. It takes at most
// Config.NegotiationTimeout. If the session is ended while it works (a
// hang-up, a revocation, shutdown), the error says so.
func (s *Session) Answer(ctx context.Context, offer *Offer, prepare func() error) (string, error) {
	s.negotiate.Lock()
	defer s.negotiate.Unlock()
	answer, err := s.answer(ctx, offer, prepare)
	if err != nil {
		return "", s.endedError(err)
	}
	return answer, nil
}

func (s *Session) answer(ctx context.Context, offer *Offer, prepare func() error) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.NegotiationTimeout)
	defer cancel()
	if err := s.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return "", &httpx.Error{Status: http.StatusBadRequest, Detail: "offer rejected: " + err.Error(), Err: err}
	}
	if prepare != nil {
		if err := prepare(); err != nil {
			return "", err
		}
	}
	local, err := s.localAnswer(ctx)
	if err != nil {
		return "", err
	}
	answer, err := addRTCPMuxOnly(local)
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	ufrag, _ := iceCredentials(offer.SDP)
	s.mu.Lock()
	s.remoteUfrag = ufrag
	s.mu.Unlock()
	return answer, nil
}

// Failed returns err as the client of a session being set up should see
// it: when the server ended the session meanwhile (a revocation, a
// camera replaced, shutdown), the 409 or 503 that Answer would give;
// otherwise err. Handlers use it for the steps they take before Answer,
// which fail on the closed peer connection.
func (s *Session) Failed(err error) error { return s.endedError(err) }

// endedError replaces err by what a client can act on when the session
// was ended by the server while it was being negotiated: 503 at shutdown,
// else 409 naming the reason.
func (s *Session) endedError(err error) error {
	s.mu.Lock()
	closed, reason := s.closed, s.reason
	s.mu.Unlock()
	switch {
	case !closed || reason == ReasonRejected:
		return err
	case reason == ReasonServer:
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "the session was ended while it was being set up; try again", RetryAfter: 2 * time.Second, Err: err}
	}
	return &httpx.Error{Status: http.StatusConflict, Detail: fmt.Sprintf("the session was ended while it was being set up (%s)", reason), Err: err}
}

// localAnswer creates and sets the local answer and waits for gathering.
func (s *Session) localAnswer(ctx context.Context) (string, error) {
	answer, err := s.PC.CreateAnswer(nil)
	if err != nil {
		return "", &httpx.Error{Status: http.StatusUnprocessableEntity, Detail: "cannot answer this offer: " + err.Error(), Err: err}
	}
	gathered := webrtc.GatheringCompletePromise(s.PC)
	if err := s.PC.SetLocalDescription(answer); err != nil {
		return "", &httpx.Error{Status: http.StatusUnprocessableEntity, Detail: "cannot answer this offer: " + err.Error(), Err: err}
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "gathering ICE candidates timed out", RetryAfter: time.Second, Err: ctx.Err()}
	}
	return s.PC.LocalDescription().SDP, nil
}

// restart performs an ICE restart with the client's new credentials
// (RFC 9725 §4.3.3) and returns the fragment to answer with. On failure
// the old ICE session stays in use. It takes at most
// Config.NegotiationTimeout.
func (s *Session) restart(ctx context.Context, f *Fragment) (string, error) {
	s.negotiate.Lock()
	defer s.negotiate.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.NegotiationTimeout)
	defer cancel()
	remote := s.PC.RemoteDescription()
	if remote == nil {
		return "", httpx.Errorf(http.StatusConflict, "session has no remote description yet")
	}
	offer, err := withNewCredentials(remote.SDP, f.Ufrag, f.Pwd)
	if err != nil {
		return "", fmt.Errorf("ice restart: %w", err)
	}
	if err := s.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", &httpx.Error{Status: http.StatusUnprocessableEntity, Detail: "ICE restart failed: " + err.Error(), Err: err}
	}
	local, err := s.localAnswer(ctx)
	if err != nil {
		return "", err
	}
	frag, err := restartFragment(local)
	if err != nil {
		return "", fmt.Errorf("ice restart: %w", err)
	}
	s.mu.Lock()
	s.remoteUfrag = f.Ufrag
	s.candidates = 0
	s.etag = newETag()
	s.mu.Unlock()
	return frag, nil
}

// trickle adds the usable candidates of f. Candidates it cannot use are
// discarded, which is not an error (RFC 9725 §4.3.2).
func (s *Session) trickle(f *Fragment) {
	for _, c := range f.Candidates {
		if !usable(c, s.m.api.tcpMux != nil) {
			continue
		}
		s.mu.Lock()
		over := s.candidates >= s.m.cfg.MaxCandidates
		if !over {
			s.candidates++
		}
		s.mu.Unlock()
		if over {
			break
		}
		mid := c.Mid
		init := webrtc.ICECandidateInit{Candidate: c.Value}
		if mid != "" {
			init.SDPMid = &mid
		}
		if err := s.PC.AddICECandidate(init); err != nil {
			// An unusable candidate is discarded, not an error (§4.3.2).
			s.Log.Debug("trickled candidate ignored", "err", err)
		}
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newETag() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return `"` + base64.RawURLEncoding.EncodeToString(b[:]) + `"`
}
