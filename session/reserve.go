package session

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/wishcast/wishcast/httpx"
)

// Caps. The server-wide ones (MaxSessions, MaxPending) protect the server
// and answer 503; the per-principal ones keep one principal (a user, a
// publish key, or one client address for anonymous requests) from taking
// every slot, and answer 429 so that a flood hurts only its sender.

// Creator is who made a session.
type Creator struct {
	// Owner is the creator's subject as the endpoint's authorization
	// recorded it ("" when anonymous).
	Owner string
	// Client is the creator's address group (see Access.Client), kept so
	// that an anonymous session answers only its own client.
	Client string
}

// principalKey is the key of c's per-principal caps: the owner (a user,
// or "user:keyID" for a publish key), or the client's address group for
// anonymous requests.
func (c Creator) principalKey() string {
	if c.Owner != "" {
		return "o:" + c.Owner
	}
	return "c:" + c.Client
}

// Reservation is a slot under the session caps, taken before any other
// work on a request, so that a request the caps refuse touches nothing
// (no stream is published or started for it). Use it once with New, or
// give it back with Release.
type Reservation struct {
	m        *Manager
	protocol string
	creator  Creator
	key      string
	once     sync.Once
	estimate bool
	viewOnly bool
}

// EstimateBandwidth makes the session New creates estimate its peer's
// bandwidth (Session.Estimator): for viewers of simulcast streams, whose
// layer follows it. Such a session only sends (see ViewOnly). Call it
// before New.
func (r *Reservation) EstimateBandwidth() { r.estimate = true }

// ViewOnly says that the session New creates only sends media (a viewer):
// its peer connection is made without the interceptors of received media
// (NACK generator, receiver reports, TWCC feedback), which would cost a
// goroutine and state each for nothing. Call it before New. A session
// that estimates bandwidth is always made so.
func (r *Reservation) ViewOnly() { r.viewOnly = true }

// Reserve takes a slot for a session of protocol made by c. It fails with
// 503 and Retry-After when a server-wide cap is reached, with 429 and
// Retry-After when c's principal has reached its own cap, and with 503
// while shutting down.
func (m *Manager) Reserve(protocol string, c Creator) (*Reservation, error) {
	key := c.principalKey()
	m.mu.Lock()
	err := m.capsLocked(c, key)
	if err == nil {
		m.pending++
		m.reserved++
		m.pendingBy[key]++
		m.totalBy[key]++
	}
	m.mu.Unlock()
	if err != nil {
		if !errors.Is(err, ErrShuttingDown) {
			m.refused(protocol)
		}
		return nil, err
	}
	return &Reservation{m: m, protocol: protocol, creator: c, key: key}, nil
}

// capsLocked returns the error of a cap a new session of c (principal
// key) would pass, or nil. m.mu must be held.
func (m *Manager) capsLocked(c Creator, key string) error {
	if m.closed {
		return shuttingDown()
	}
	// The principal's own caps first: a flooder hears about its own
	// limit, and the server-wide caps are left for everyone else.
	if n := m.cfg.maxPendingPer(); m.pendingBy[key] >= n {
		return &httpx.Error{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second,
			Detail: fmt.Sprintf("you already have %d sessions still connecting, the most one %s may have (setting MAX_PENDING_PER_PRINCIPAL); wait for them to connect or end", n, who(c))}
	}
	if n := m.cfg.maxSessionsPer(); m.totalBy[key] >= n {
		return &httpx.Error{Status: http.StatusTooManyRequests, RetryAfter: 10 * time.Second,
			Detail: fmt.Sprintf("you already have %d sessions, the most one %s may have (setting MAX_SESSIONS_PER_PRINCIPAL); end one first", n, who(c))}
	}
	if len(m.sessions)+m.reserved >= m.cfg.MaxSessions {
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "too many sessions on this server; try again later", RetryAfter: 10 * time.Second}
	}
	if m.pending >= m.cfg.MaxPending {
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "too many sessions connecting at once; try again shortly", RetryAfter: 2 * time.Second}
	}
	return nil
}

// who names a principal in a refusal.
func who(c Creator) string {
	if c.Owner != "" {
		return "account or key"
	}
	return "address"
}

// Release gives the slot back if New has not used it; it is idempotent.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	r.once.Do(func() {
		m := r.m
		m.mu.Lock()
		m.unreserveLocked(r.key)
		m.mu.Unlock()
	})
}

// unreserveLocked gives back a reserved slot. m.mu must be held.
func (m *Manager) unreserveLocked(key string) {
	m.reserved--
	m.pending--
	m.decLocked(m.pendingBy, key)
	m.decLocked(m.totalBy, key)
}

// decLocked decrements by[key], forgetting keys that reach zero so that
// the maps hold only principals with sessions. m.mu must be held.
func (m *Manager) decLocked(by map[string]int, key string) {
	if by[key] <= 1 {
		delete(by, key)
		return
	}
	by[key]--
}

// New creates the reserved session with a fresh peer connection. The
// reservation is used up whatever the outcome. The session becomes
// visible (Get, Sessions, CloseWhere, CloseAll) only once it is whole: its
// peer connection and reap timer exist.
func (r *Reservation) New(stream string) (*Session, error) {
	var s *Session
	err := fmt.Errorf("session: reservation used twice")
	r.once.Do(func() { s, err = r.m.build(r, stream) })
	return s, err
}

// New reserves and creates a session in one step (see Reserve and
// Reservation.New).
func (m *Manager) New(protocol, stream string, c Creator) (*Session, error) {
	r, err := m.Reserve(protocol, c)
	if err != nil {
		return nil, err
	}
	return r.New(stream)
}

// build makes the session of reservation r.
func (m *Manager) build(r *Reservation, stream string) (*Session, error) {
	cfg := webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	}
	var pc *webrtc.PeerConnection
	var est Estimator
	var err error
	if m.api.certs != nil {
		cfg.Certificates, err = m.api.certs.get()
	}
	if err != nil {
		// pion makes a certificate of its own for the connection.
		m.log.Warn("shared DTLS certificate", "err", err)
	}
	if r.estimate {
		pc, est, err = m.api.newEstimating(cfg)
	} else if r.viewOnly && m.api.viewer != nil {
		pc, err = m.api.viewer.NewPeerConnection(cfg)
	} else {
		pc, err = m.api.NewPeerConnection(cfg)
	}
	if err != nil {
		m.mu.Lock()
		m.unreserveLocked(r.key)
		m.mu.Unlock()
		return nil, &httpx.Error{Status: http.StatusInternalServerError, Detail: "the server could not create a peer connection; try again", Err: fmt.Errorf("new peer connection: %w", err)}
	}
	id := m.idPrefix + newID()
	s := &Session{
		ID: id, Protocol: r.protocol, Stream: stream, Owner: r.creator.Owner, Client: r.creator.Client,
		PC:        pc,
		Estimator: est,
		m:         m,
		principal: r.key,
		created:   time.Now(),
		etag:      newETag(),
		done:      make(chan struct{}),
		limiter:   rate.NewLimiter(rate.Limit(m.cfg.PatchRate), int(2*m.cfg.PatchRate)+1),
		Log:       m.log.With("session", id, "protocol", r.protocol, "stream", stream),
	}
	// The timer fires no earlier than HandshakeTimeout, long after the
	// session is published below; Close copes with either order anyway.
	s.reaper = time.AfterFunc(m.cfg.HandshakeTimeout, func() { s.Close(ReasonReaped) })

	m.mu.Lock()
	if m.closed {
		m.unreserveLocked(r.key)
		m.mu.Unlock()
		s.reaper.Stop()
		if err := pc.Close(); err != nil {
			s.Log.Debug("close peer connection", "err", err)
		}
		return nil, shuttingDown()
	}
	m.reserved--
	m.sessions[id] = s
	m.mu.Unlock()
	// Counted only once it exists, so that created minus closed is what
	// runs: every session counted here is counted again when it closes.
	m.created.Add(1)
	if m.obs != nil {
		m.obs.SessionCreated(r.protocol)
	}
	pc.OnConnectionStateChange(s.onState)
	return s, nil
}

func shuttingDown() error {
	return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "server is shutting down", RetryAfter: 5 * time.Second, Err: ErrShuttingDown}
}
