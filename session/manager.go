package session

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wishcast/wishcast/httpx"
)

// ErrShuttingDown is returned by New after CloseAll.
var ErrShuttingDown = errors.New("server is shutting down")

// Stats are the manager's session counts.
type Stats struct {
	Active, Pending                        int
	Created, Connected, Reaped, Failed     uint64
	Deleted, ClosedByServer, RejectedLimit uint64
}

// Manager owns every session: it creates them under the configured caps,
// reaps those that never connect, and serves /sessions/{id}.
type Manager struct {
	cfg   Config
	api   *API
	log   *slog.Logger
	links []string
	// access decides who may use a session resource; its Check nil allows
	// anyone holding its id.
	access Access
	obs    Observer // set before serving; nil: none
	// idPrefix starts every session id (a cluster node's id and a dot),
	// set before serving.
	idPrefix string

	created, connectedN, reaped, failed, deleted, byServer, limited atomic.Uint64

	// mu guards all following fields.
	mu       sync.Mutex
	sessions map[string]*Session
	pending  int // sessions not connected yet, reserved slots included
	reserved int // slots reserved for sessions not yet in the map
	closed   bool
	// By principal (see principalKey): sessions not connected yet and
	// all sessions, reserved slots included.
	pendingBy, totalBy map[string]int
	// Sessions that ended by themselves lately (see tombstone.go), and
	// their ids oldest first.
	tombs     map[string]tomb
	tombOrder []string
}

// NewManager returns a manager creating sessions on api.
func NewManager(cfg Config, api *API, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Manager{cfg: cfg, api: api, log: log, links: iceServerLinks(cfg), sessions: map[string]*Session{},
		pendingBy: map[string]int{}, totalBy: map[string]int{}, tombs: map[string]tomb{}}
}

// Access decides who may use a session resource.
type Access struct {
	// Check gets a request on a session and the session's creator, and
	// returns nil or the error to answer with.
	Check func(r *http.Request, c Creator) error
	// Client returns the address group of a request's client (an IPv6
	// address counts per /64); nil records none.
	Client func(r *http.Request) string
}

// SetAccess installs the check of who may PATCH, DELETE or GET a session.
// Call it before serving.
func (m *Manager) SetAccess(a Access) { m.access = a }

// SetIDPrefix makes every new session id start with prefix (in a
// cluster, the node's id and a dot, so that any node can tell which node
// holds a session). Call it before serving.
func (m *Manager) SetIDPrefix(prefix string) { m.idPrefix = prefix }

// ClientOf returns r's client address group, "" without Access.Client.
func (m *Manager) ClientOf(r *http.Request) string {
	if m.access.Client == nil {
		return ""
	}
	return m.access.Client(r)
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// Get returns the running session with id, or nil.
func (m *Manager) Get(id string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[id]
}

// Sessions returns the running sessions.
func (m *Manager) Sessions() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// Each calls f with the protocol, stream and owner of every running
// session (on a snapshot: f may call back into the manager).
func (m *Manager) Each(f func(protocol, stream, owner string)) {
	for _, s := range m.Sessions() {
		f(s.Protocol, s.Stream, s.Owner)
	}
}

// CloseWhere ends, with reason, every session for which match (given the
// session's protocol, stream and owner) is true, and returns how many it
// ended. It waits for them to close.
func (m *Manager) CloseWhere(match func(protocol, stream, owner string) bool, reason string) int {
	var hit []*Session
	for _, s := range m.Sessions() {
		if match(s.Protocol, s.Stream, s.Owner) {
			hit = append(hit, s)
		}
	}
	var wg sync.WaitGroup
	for _, s := range hit {
		wg.Go(func() { s.Close(reason) })
	}
	wg.Wait()
	return len(hit)
}

// Stats returns current counts.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	st := Stats{Active: len(m.sessions), Pending: m.pending}
	m.mu.Unlock()
	st.Created = m.created.Load()
	st.Connected = m.connectedN.Load()
	st.Reaped = m.reaped.Load()
	st.Failed = m.failed.Load()
	st.Deleted = m.deleted.Load()
	st.ClosedByServer = m.byServer.Load()
	st.RejectedLimit = m.limited.Load()
	return st
}

// CloseAll ends every session and refuses new ones.
func (m *Manager) CloseAll() {
	m.mu.Lock()
	m.closed = true
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() { s.Close(ReasonServer) })
	}
	wg.Wait()
}

// refused counts a session refused by the caps.
func (m *Manager) refused(protocol string) {
	m.limited.Add(1)
	if m.obs != nil {
		m.obs.SessionRefused(protocol)
	}
}

func (m *Manager) connected(s *Session) {
	if m.obs != nil {
		m.obs.SessionConnected(s.Protocol, time.Since(s.created))
	}
	m.connectedN.Add(1)
	// Close counts a session that connected as no longer pending, so this
	// decrement is due even if the session has just been removed.
	m.mu.Lock()
	m.pending--
	m.decLocked(m.pendingBy, s.principal)
	m.mu.Unlock()
}

func (m *Manager) remove(s *Session, wasPending bool, reason string) {
	m.mu.Lock()
	if m.sessions[s.ID] == s {
		delete(m.sessions, s.ID)
		m.decLocked(m.totalBy, s.principal)
		if wasPending {
			m.pending--
			m.decLocked(m.pendingBy, s.principal)
		}
		if reason == ReasonClosed || reason == ReasonFailed {
			m.buryLocked(s, time.Now())
		}
	}
	m.mu.Unlock()
	switch reason {
	case ReasonReaped:
		m.reaped.Add(1)
	case ReasonFailed:
		m.failed.Add(1)
	case ReasonDeleted:
		m.deleted.Add(1)
	case ReasonServer, ReasonRevoked:
		m.byServer.Add(1)
	}
	if m.obs != nil {
		m.obs.SessionClosed(s.Protocol, reason, !wasPending)
	}
}

// WriteCreated writes the 201 answer of a new session: the SDP, Location,
// a strong ETag and ice-server Links (RFC 9725 §4.2, §4.3.1, §4.6).
func (m *Manager) WriteCreated(w http.ResponseWriter, s *Session, answer string) {
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", "/sessions/"+s.ID)
	h.Set("ETag", s.ETag())
	m.AddLinks(h)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(answer))
}

// AddLinks adds the ice-server Link headers to h.
func (m *Manager) AddLinks(h http.Header) {
	for _, l := range m.links {
		h.Add("Link", l)
	}
}

// Session resource methods, for Allow headers.
const sessionAllow = "OPTIONS, GET, HEAD, PATCH, DELETE"

// Handler serves /sessions/{id}: PATCH (trickle, ICE restart), DELETE,
// GET/HEAD (2xx, no content) and OPTIONS. id extracts the session id from
// the request (the router's path parameter).
func (m *Manager) Handler(id func(*http.Request) string) http.Handler {
	return httpx.Handle(m.log, func(w http.ResponseWriter, r *http.Request) error {
		switch r.Method {
		case http.MethodOptions:
			w.Header().Set("Accept-Patch", "application/trickle-ice-sdpfrag")
			w.Header().Set("Allow", sessionAllow)
			w.WriteHeader(http.StatusOK)
			return nil
		case http.MethodGet, http.MethodHead, http.MethodPatch, http.MethodDelete:
		default:
			return httpx.Errorf(http.StatusMethodNotAllowed, "method %s not allowed on a session", r.Method).WithHeader("Allow", sessionAllow)
		}
		s := m.Get(id(r))
		if s == nil {
			return m.ended(w, r, id(r))
		}
		if m.access.Check != nil {
			if err := m.access.Check(r, Creator{Owner: s.Owner, Client: s.Client}); err != nil {
				return err
			}
		}
		switch r.Method {
		case http.MethodDelete:
			// The entity-tag is ignored on DELETE (RFC 9725 §4.3.1).
			s.Close(ReasonDeleted)
			w.WriteHeader(http.StatusOK)
			return nil
		case http.MethodPatch:
			return m.patch(w, r, s)
		default:
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	})
}

// ended answers a request on a session that is not running: a DELETE by
// the owner of a session that ended by itself within the last minute is
// a 200 (it is gone, as asked); anything else a 404.
func (m *Manager) ended(w http.ResponseWriter, r *http.Request, id string) error {
	notFound := httpx.Errorf(http.StatusNotFound, "no such session (it may have ended)")
	t, ok := m.tombOf(id, time.Now())
	if !ok || r.Method != http.MethodDelete {
		return notFound
	}
	if m.access.Check != nil && m.access.Check(r, t.creator) != nil {
		return notFound
	}
	m.mu.Lock()
	delete(m.tombs, id) // a second DELETE is a 404, as for any session
	m.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	return nil
}

// patch handles trickle ICE (204) and ICE restart (200), RFC 9725 §4.3.
func (m *Manager) patch(w http.ResponseWriter, r *http.Request, s *Session) error {
	if !s.limiter.Allow() {
		return &httpx.Error{Status: http.StatusTooManyRequests, Detail: "too many PATCH requests for this session", RetryAfter: time.Second}
	}
	if !httpx.MediaTypeIs(r, "application/trickle-ice-sdpfrag") {
		return httpx.Errorf(http.StatusUnsupportedMediaType, "PATCH takes application/trickle-ice-sdpfrag").
			WithHeader("Accept-Patch", "application/trickle-ice-sdpfrag")
	}
	ifMatch := strings.TrimSpace(r.Header.Get("If-Match"))
	if ifMatch == "" {
		return httpx.Errorf(http.StatusPreconditionRequired, "PATCH needs an If-Match header with the session's ETag, or * for an ICE restart")
	}
	body, err := httpx.ReadBody(w, r, m.cfg.MaxPatchBytes)
	if err != nil {
		return err
	}
	f, err := ParseFragment(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	etag, ufrag := s.etag, s.remoteUfrag
	s.mu.Unlock()
	if ifMatch != "*" && !etagListHas(ifMatch, etag) {
		return httpx.Errorf(http.StatusPreconditionFailed, "If-Match does not match the session's current ETag")
	}
	select {
	case <-s.done:
		return httpx.Errorf(http.StatusNotFound, "no such session (it has ended)")
	default:
	}
	if f.Ufrag != "" && f.Ufrag != ufrag {
		frag, err := s.restart(r.Context(), f)
		if err != nil {
			return err
		}
		s.trickle(f)
		h := w.Header()
		h.Set("Content-Type", "application/trickle-ice-sdpfrag")
		h.Set("ETag", s.ETag())
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(frag))
		s.Log.Info("ICE restarted")
		return nil
	}
	s.trickle(f)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// etagListHas reports whether an If-Match list holds tag (strong compare).
func etagListHas(list, tag string) bool {
	for e := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(e) == tag {
			return true
		}
	}
	return false
}
