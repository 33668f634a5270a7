package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/tlsx"
)

// CookieName is the browser app's session cookie.
const CookieName = "wishcast_session"

// maxLoginBody bounds a sign-in request.
const maxLoginBody = 4 << 10

// Handlers serves sign-in, sign-out and "who am I", and authenticates
// requests for the rest of the server.
type Handlers struct {
	store *Store
	log   *slog.Logger
	// presence says whether a user is online (has the app open) and is
	// publishing their camera; nil: nobody is.
	presence func(user string) (online, publishing bool)
	// revoked hears of a user's access ending through this server: one
	// token (signed out, revoked) or, with tokenID "", all of them
	// (disabled, deleted, password set).
	revoked func(user, tokenID string)
	// changed hears of an account changed through the API.
	changed func(User)
	// crossSite tells requests from pages of other sites; nil: none is.
	crossSite func(*http.Request) bool
}

// SetOnUserChange installs f, told of every account the API changed (its
// new state), so that what depends on it (who may watch the user, a
// disabled user's sessions) follows at once. Call it before serving.
func (h *Handlers) SetOnUserChange(f func(User)) { h.changed = f }

// SetOnRevoke installs f, told when a user's access ends through the API,
// so that long-lived connections (the event feed) can be closed at once.
// Call it before serving.
func (h *Handlers) SetOnRevoke(f func(user, tokenID string)) { h.revoked = f }

// revoke tells the hook, if any.
func (h *Handlers) revoke(user, tokenID string) {
	if h.revoked != nil {
		h.revoked(user, tokenID)
	}
}

// SetPresence installs what the user list reports as online state. Call it
// before serving.
func (h *Handlers) SetPresence(f func(user string) (online, publishing bool)) { h.presence = f }

// NewHandlers returns the HTTP side of store.
func NewHandlers(store *Store, log *slog.Logger) *Handlers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handlers{store: store, log: log}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p as the authenticated principal, as
// Middleware does for a request it signed in. It serves callers that
// authenticated the request some other way, and tests.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal Middleware found on the request, or
// nil for an anonymous request.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Middleware authenticates every request that carries a token, from the
// Authorization header (Bearer) or the app's cookie, and refuses tokens in
// the query string (RFC 6750 §2.3 allows them; they end up in logs). A bad
// token is a 401 with error="invalid_token"; no token leaves the request
// anonymous for the route to decide. CORS preflights pass untouched.
func (h *Handlers) Middleware(next http.Handler) http.Handler {
	return httpx.Handle(h.log, func(w http.ResponseWriter, r *http.Request) error {
		if httpx.IsPreflight(r) {
			next.ServeHTTP(w, r)
			return nil
		}
		q := r.URL.Query()
		if q.Has("access_token") || q.Has("token") {
			return unauthorized("tokens are not accepted in the URL; send them in an Authorization: Bearer header", true)
		}
		if len(r.Header.Values("Authorization")) > 1 {
			return httpx.Errorf(http.StatusBadRequest, "send one Authorization header, not several")
		}
		tok, fromCookie := bearer(r)
		if tok == "" {
			next.ServeHTTP(w, r)
			return nil
		}
		// The cookie is ambient: a page of another site can make the
		// browser send it. Only same-site pages (or allowed origins) may
		// change anything with it; a request with an Authorization header
		// was written by its sender and is not concerned.
		if fromCookie && !safeMethod(r.Method) && h.crossSite != nil && h.crossSite(r) {
			return httpx.Errorf(http.StatusForbidden, "cross-site request refused: a page of another site may not change anything with your wishcast sign-in (allow its origin with ALLOWED_ORIGINS, or send an Authorization header)").WithCode("cross_site")
		}
		p, err := h.store.Authenticate(r.Context(), tok)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) {
				if fromCookie {
					// A stale cookie (signed out elsewhere, password
					// changed) is dropped, not held against the request:
					// the sign-in form, the app's files and public
					// streams work as for anyone not signed in, and
					// what needs a sign-in says so itself.
					http.SetCookie(w, expiredCookie(r))
					next.ServeHTTP(w, r)
					return nil
				}
				if kindOf(tok) == PrincipalKey {
					return unauthorized("this publish key is invalid, expired or revoked; create a new key (wishcast token create, or Keys in the app) and give it to the encoder", true)
				}
				return unauthorized("the token is invalid, expired or revoked; sign in again", true)
			}
			return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "the account store is unavailable", RetryAfter: 5 * time.Second, Err: err}
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), &p)))
		return nil
	})
}

// safeMethod reports whether method changes nothing (RFC 9110 §9.2.1).
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// SetCrossSite installs the check of whether a request comes from a page
// of another site (httpx.Origins.CrossSite): such requests may not change
// anything with the sign-in cookie. Call it before serving.
func (h *Handlers) SetCrossSite(f func(*http.Request) bool) { h.crossSite = f }

// bearer returns the request's token and whether it came from the cookie.
func bearer(r *http.Request) (string, bool) {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, tok, _ := strings.Cut(v, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// unauthorized is a 401 with the RFC 6750 challenge.
func unauthorized(detail string, invalid bool) *httpx.Error {
	challenge := `Bearer realm="wishcast"`
	if invalid {
		challenge += `, error="invalid_token"`
	}
	return httpx.Errorf(http.StatusUnauthorized, "%s", detail).WithHeader("WWW-Authenticate", challenge)
}

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

type userJSON struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Role        Role      `json:"role"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
}

// Login is POST /api/v1/login: JSON name and password in, a session token
// (and the app's HttpOnly, SameSite=Strict cookie) out.
func (h *Handlers) Login(w http.ResponseWriter, r *http.Request) error {
	if !httpx.MediaTypeIs(r, "application/json") {
		return httpx.Errorf(http.StatusUnsupportedMediaType, "send JSON: {\"name\": \"…\", \"password\": \"…\"}").WithHeader("Accept-Post", "application/json")
	}
	body, err := httpx.ReadBody(w, r, maxLoginBody)
	if err != nil {
		return err
	}
	var req loginRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Name == "" || req.Password == "" {
		return httpx.Errorf(http.StatusBadRequest, "send JSON with a name and a password")
	}
	sess, tok, err := h.store.Login(r.Context(), req.Name, req.Password, clientAddr(r))
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		return &httpx.Error{Status: http.StatusTooManyRequests, Detail: "too many failed sign-ins; wait and try again", RetryAfter: rl.RetryAfter}
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrUserDisabled):
		return httpx.Errorf(http.StatusUnauthorized, "%v", err)
	case err != nil:
		return &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "the account store is unavailable", RetryAfter: 5 * time.Second, Err: err}
	}
	u, err := h.store.GetUser(r.Context(), sess.User)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: tok, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: tlsx.Scheme(r) == "https",
	})
	w.Header().Set("Cache-Control", "no-store")
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"token": tok, "expires": sess.Expires, "user": toJSON(u),
	})
}

// Logout is POST /api/v1/logout: the request's session ends, the cookie
// is cleared.
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) error {
	p := PrincipalFrom(r.Context())
	if p == nil || p.Kind != PrincipalSession {
		return unauthorized("sign in first", false)
	}
	tok, _ := bearer(r)
	if err := h.store.Logout(r.Context(), tok); err != nil {
		return err
	}
	h.revoke(p.User, p.TokenID)
	http.SetCookie(w, expiredCookie(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Me is GET /api/v1/me: the signed-in user.
func (h *Handlers) Me(w http.ResponseWriter, r *http.Request) error {
	p := PrincipalFrom(r.Context())
	if p == nil {
		return unauthorized("sign in first", false)
	}
	u, err := h.store.GetUser(r.Context(), p.User)
	if err != nil {
		return err
	}
	// The user's fields at the top level, and again under "user" as the
	// sign-in answer has them.
	c := choicesOf(u)
	out := map[string]any{"user": toJSON(u), "kind": p.Kind, "name": u.Name, "display_name": u.DisplayName,
		"role": u.Role, "allow_watch": u.AllowsWatch(), "auto_answer": c.AutoAnswer,
		"watch": c.Watch, "answer": c.Answer, "chosen": c.Chosen, "notice_seen": c.NoticeSeen, "change_password": c.ChangePassword}
	if !u.LastSeen.IsZero() {
		out["last_seen"] = u.LastSeen
	}
	if p.Scope != nil {
		out["scope"] = p.Scope
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func toJSON(u User) userJSON {
	return userJSON{Name: u.Name, DisplayName: u.DisplayName, Role: u.Role, LastSeen: u.LastSeen}
}

func expiredCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: tlsx.Scheme(r) == "https"}
}

// ClientGroup is the address group of r's client: its address, an IPv6
// address counted per /64 (the block one host usually holds). Behind a
// trusted proxy the forwarded address has already replaced the peer's
// (tlsx). Anonymous sessions are bound to it, and anonymous requests
// limited by it.
func ClientGroup(r *http.Request) string { return addrKey(r.RemoteAddr) }

// clientAddr is the peer address, for per-address sign-in limits. Proxy
// headers are not trusted here.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// StreamAccess returns the check whip and whep run before a POST: it
// applies Authorize to the request's principal and maps the answer to
// HTTP (RFC 6750 §3): 401 with a Bearer challenge when signing in could
// help, 403 with error="insufficient_scope" for a principal without the
// right, 400 for a name outside the namespaces. info supplies what the
// store does not know about a stream (call participants, public flag).
func (h *Handlers) StreamAccess(info func(ctx context.Context, stream string) StreamInfo) func(r *http.Request, action, stream string) (string, error) {
	return func(r *http.Request, action, stream string) (string, error) {
		p := PrincipalFrom(r.Context())
		var si StreamInfo
		if info != nil {
			si = info(r.Context(), stream)
		}
		err := Authorize(p, Action(action), stream, si)
		switch {
		case err == nil:
			return p.Subject(), nil
		case errors.Is(err, ErrUnauthenticated):
			return "", unauthorized(fmt.Sprintf("sign in (a Bearer token) to %s %s", action, stream), false)
		case errors.Is(err, ErrForbidden):
			return "", httpx.Errorf(http.StatusForbidden, "%v", err).
				WithHeader("WWW-Authenticate", `Bearer realm="wishcast", error="insufficient_scope"`)
		case errors.Is(err, ErrInvalid):
			return "", httpx.Errorf(http.StatusBadRequest, "%v", err)
		default:
			return "", err
		}
	}
}

// SessionAccess is the check of who may use a WebRTC session resource
// (PATCH, DELETE): its owner, or an admin (CanManageSession); a session
// created anonymously, by requests from the client that created it
// (ClientGroup). Others learn nothing: anonymous requests get 401, or 404
// on an anonymous session; signed-in ones 404.
func (h *Handlers) SessionAccess(r *http.Request, owner, client string) error {
	p := PrincipalFrom(r.Context())
	switch {
	case CanManageSession(p, owner):
		return nil
	case owner == "" && client != "" && ClientGroup(r) == client:
		return nil
	case owner == "":
		return httpx.Errorf(http.StatusNotFound, "no such session (it may have ended)")
	}
	if p == nil {
		return unauthorized("sign in (a Bearer token) to change this session", false)
	}
	return httpx.Errorf(http.StatusNotFound, "no such session (it may have ended)")
}
