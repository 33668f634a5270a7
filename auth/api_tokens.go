package auth

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wishcast/wishcast/httpx"
)

// maxKeyTTL bounds a publish key's lifetime when one is given (ttl_seconds
// 0 means until revoked).
const maxKeyTTL = 10 * 366 * 24 * time.Hour

type createTokenRequest struct {
	Action     Action `json:"action"`
	Stream     string `json:"stream"`
	Label      string `json:"label"`
	TTLSeconds int64  `json:"ttl_seconds"`
	Owner      string `json:"owner"`
}

// createdToken is a new publish key: the secret, shown this once, and its
// record.
type createdToken struct {
	Token string `json:"token"`
	apiToken
}

// ListTokens is GET /api/v1/tokens: publish keys and sign-in sessions,
// all of them for an admin, a user's own for a user; never their secrets.
func (a *API) ListTokens(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	owner := p.User
	if p.IsAdmin() {
		owner = ""
	}
	keys, err := a.h.store.ListTokens(r.Context(), owner)
	if err != nil {
		return err
	}
	sessions, err := a.h.store.listTokens(r.Context(), PrincipalSession, owner)
	if err != nil {
		return err
	}
	out := make([]apiToken, 0, len(keys)+len(sessions))
	for _, t := range slices.Concat(keys, sessions) {
		out = append(out, apiTokenOf(t, p))
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// CreateToken is POST /api/v1/tokens: JSON action, stream (a name or a
// prefix ending in '/'), label, ttl_seconds (0: until revoked) and owner
// (admins only; the caller by default) in; 201 with the key ("wck_…",
// shown this once) and its record out. Who may create which key is
// CanCreateToken's call (403 with its reason).
func (a *API) CreateToken(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	var req createTokenRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	owner := req.Owner
	if owner == "" || strings.EqualFold(owner, p.User) {
		owner = p.User
	}
	scope := Scope{Action: req.Action, Stream: req.Stream}
	if err := scope.validate(); err != nil {
		return storeError(err, "key")
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(maxKeyTTL/time.Second) {
		return httpx.Errorf(http.StatusBadRequest, "ttl_seconds must be 0 (until revoked) or up to %d", int64(maxKeyTTL/time.Second))
	}
	if err := CanCreateToken(p, owner, scope); err != nil {
		return httpx.Errorf(http.StatusForbidden, "%v", err)
	}
	t, secret, err := a.h.store.CreateToken(r.Context(), owner, scope, req.Label, time.Duration(req.TTLSeconds)*time.Second)
	if errors.Is(err, ErrNotFound) {
		return httpx.Errorf(http.StatusBadRequest, "owner %q is not a user", clip(owner))
	}
	if err != nil {
		return storeError(err, "key")
	}
	return httpx.WriteJSON(w, http.StatusCreated, createdToken{Token: secret, apiToken: apiTokenOf(t, p)})
}

// RevokeToken is DELETE /api/v1/tokens/{id}: a publish key or sign-in
// session stops working at once. Its owner or an admin may revoke it;
// anyone else gets 404, as for a token that does not exist.
func (a *API) RevokeToken(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	id := a.param(r, "id")
	t, err := a.h.store.GetToken(r.Context(), id)
	if errors.Is(err, ErrNotFound) || err == nil && !p.IsAdmin() && !strings.EqualFold(t.Owner, p.User) {
		return httpx.Errorf(http.StatusNotFound, "no such token")
	}
	if err != nil {
		return err
	}
	if err := a.h.store.RevokeToken(r.Context(), t.ID); err != nil {
		return storeError(err, "token")
	}
	a.h.revoke(t.Owner, t.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
