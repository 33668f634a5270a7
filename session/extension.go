package session

import (
	"net/http"

	"github.com/wishcast/wishcast/httpx"
)

// Extension serves requests on one of a session's extension resources,
// /sessions/{id}/{name}[/{rest}] (WHEP's layer selection and server-sent
// events): rest is what follows the name ("" for none). The manager has
// already checked that the caller may use the session.
type Extension func(w http.ResponseWriter, r *http.Request, rest string) error

// SetExtension makes h serve the session's extension resource name. Set
// it before the session's 201 advertises it.
func (s *Session) SetExtension(name string, h Extension) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ext == nil {
		s.ext = map[string]Extension{}
	}
	s.ext[name] = h
}

// extension returns the session's extension name, or nil.
func (s *Session) extension(name string) Extension {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext[name]
}

// ExtensionHandler serves /sessions/{id}/{name}[/{rest}] with the session's
// extension name, under the same access rule as the session itself; an
// unknown session or extension is a 404. id extracts the session id, and
// path what follows it ("name" or "name/rest").
func (m *Manager) ExtensionHandler(id, path func(*http.Request) string) http.Handler {
	return httpx.Handle(m.log, func(w http.ResponseWriter, r *http.Request) error {
		if httpx.IsPreflight(r) {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		s := m.Get(id(r))
		if s == nil {
			return httpx.Errorf(http.StatusNotFound, "no such session (it may have ended)")
		}
		if m.access.Check != nil {
			if err := m.access.Check(r, Creator{Owner: s.Owner, Client: s.Client}); err != nil {
				return err
			}
		}
		name, rest := path(r), ""
		for i := range len(name) {
			if name[i] == '/' {
				name, rest = name[:i], name[i+1:]
				break
			}
		}
		h := s.extension(name)
		if h == nil {
			return httpx.Errorf(http.StatusNotFound, "this session has no %q resource", name)
		}
		return h(w, r, rest)
	})
}
