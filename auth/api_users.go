package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wishcast/wishcast/httpx"
)

type createUserRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Password    string `json:"password"`
	Role        Role   `json:"role"`
}

type updateUserRequest struct {
	DisplayName *string       `json:"display_name"`
	Role        *Role         `json:"role"`
	Disabled    *bool         `json:"disabled"`
	Watch       *WatchPolicy  `json:"watch"`
	Answer      *AnswerPolicy `json:"answer"`
	Chosen      *[]string     `json:"chosen"`
	NoticeSeen  *bool         `json:"notice_seen"`
	// AllowWatch and AutoAnswer are the earlier on/off spellings of
	// watch (everyone or nobody) and answer (everyone or nobody).
	AllowWatch *bool `json:"allow_watch"`
	AutoAnswer *bool `json:"auto_answer"`
}

// update is the store's update for req: the on/off spellings apply
// where the choices themselves are not given.
func (req updateUserRequest) update() UserUpdate {
	up := UserUpdate{DisplayName: req.DisplayName, Role: req.Role, Disabled: req.Disabled,
		Watch: req.Watch, Answer: req.Answer, Chosen: req.Chosen, NoticeSeen: req.NoticeSeen}
	onOff := func(on bool, yes, no string) string {
		if on {
			return yes
		}
		return no
	}
	if up.Watch == nil && req.AllowWatch != nil {
		w := WatchPolicy(onOff(*req.AllowWatch, string(WatchEveryone), string(WatchNobody)))
		up.Watch = &w
	}
	if up.Answer == nil && req.AutoAnswer != nil {
		a := AnswerPolicy(onOff(*req.AutoAnswer, string(AnswerEveryone), string(AnswerNobody)))
		up.Answer = &a
	}
	return up
}

type passwordRequest struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"current_password"`
}

// ListUsers is GET /api/v1/users: every account with its display name,
// role, disabled flag and last activity, for any signed-in user (they
// need to see whom to call).
func (a *API) ListUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	us, err := a.h.store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	out := make([]apiUser, 0, len(us))
	for _, u := range us {
		out = append(out, a.apiUserOf(u, p))
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"users": out})
}

// GetUser is GET /api/v1/users/{name}: one account, as the list shows it.
func (a *API) GetUser(w http.ResponseWriter, r *http.Request) error {
	p, err := signedIn(r)
	if err != nil {
		return err
	}
	name := a.param(r, "name")
	u, err := a.h.store.GetUser(r.Context(), name)
	if errors.Is(err, ErrNotFound) {
		return noSuchUser(name)
	}
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, a.apiUserOf(u, p))
}

// CreateUser is POST /api/v1/users (admins only): JSON name,
// display_name, password and role in; 201 with the user and its Location
// out, 409 if the name is taken, 400 if something is invalid.
func (a *API) CreateUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminOnly(r); err != nil {
		return err
	}
	var req createUserRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	u, err := a.h.store.CreateUser(r.Context(), NewUser{Name: req.Name, DisplayName: req.DisplayName, Password: req.Password, Role: req.Role})
	if err != nil {
		return storeError(err, "user "+clip(req.Name))
	}
	w.Header().Set("Location", "/api/v1/users/"+url.PathEscape(u.Name))
	return httpx.WriteJSON(w, http.StatusCreated, a.apiUserOf(u, nil))
}

// adminOrSelf admits an admin, or the user named in the URL acting on
// themselves; others get 403 with why.
func (a *API) adminOrSelf(r *http.Request, why string) (*Principal, string, error) {
	p, err := signedIn(r)
	if err != nil {
		return nil, "", err
	}
	name := a.param(r, "name")
	if !p.IsAdmin() && !strings.EqualFold(name, p.User) {
		return nil, "", httpx.Errorf(http.StatusForbidden, "%s", why)
	}
	return p, name, nil
}

// UpdateUser is PATCH /api/v1/users/{name}: JSON display_name, role,
// disabled, watch, answer, chosen and notice_seen (allow_watch and
// auto_answer still work as on/off), each optional. Admins change
// anything (409 if that would leave no enabled admin); a user changes
// their own display name and choices.
func (a *API) UpdateUser(w http.ResponseWriter, r *http.Request) error {
	p, name, err := a.adminOrSelf(r, "only admins change other users")
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if !p.IsAdmin() && (req.Role != nil || req.Disabled != nil) {
		return httpx.Errorf(http.StatusForbidden, "only admins change roles or disable accounts; you may change your display_name, watch, answer, chosen and notice_seen")
	}
	u, err := a.h.store.UpdateUser(r.Context(), name, req.update())
	if errors.Is(err, ErrNotFound) {
		return noSuchUser(name)
	}
	if err != nil {
		return storeError(err, "user")
	}
	if u.Disabled {
		a.h.revoke(u.Name, "")
	}
	if a.h.changed != nil {
		a.h.changed(u)
	}
	return httpx.WriteJSON(w, http.StatusOK, a.apiUserOf(u, nil))
}

// SetPassword is POST /api/v1/users/{name}/password: JSON password in,
// 204 out; every sign-in session of the user ends. Admins set anyone's
// password; a user sets their own and must send current_password too.
func (a *API) SetPassword(w http.ResponseWriter, r *http.Request) error {
	p, name, err := a.adminOrSelf(r, "only admins set other users' passwords")
	if err != nil {
		return err
	}
	var req passwordRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkPassword(req.Password); err != nil {
		return storeError(err, "user")
	}
	if !p.IsAdmin() {
		if req.CurrentPassword == "" {
			return httpx.Errorf(http.StatusBadRequest, "send your current_password with the new one")
		}
		tok, err := a.verifyPassword(r, p.User, req.CurrentPassword)
		if err != nil {
			return err
		}
		// The check opened a session; SetPassword ends it with the others,
		// and this ends it if SetPassword fails.
		defer func() { _ = a.h.store.Logout(context.WithoutCancel(r.Context()), tok) }()
		name = p.User
	}
	err = a.h.store.SetPassword(r.Context(), name, req.Password)
	if err == nil {
		a.h.revoke(name, "")
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return noSuchUser(name)
		}
		return storeError(err, "user")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// verifyPassword checks a user's password with a sign-in, so the sign-in
// limits apply; it returns the token of the session that opened.
func (a *API) verifyPassword(r *http.Request, user, password string) (string, error) {
	_, tok, err := a.h.store.Login(r.Context(), user, password, clientAddr(r))
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		return "", &httpx.Error{Status: http.StatusTooManyRequests, Detail: "too many failed sign-ins; wait and try again", RetryAfter: rl.RetryAfter}
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrUserDisabled):
		return "", httpx.Errorf(http.StatusForbidden, "the current_password is wrong")
	case err != nil:
		return "", &httpx.Error{Status: http.StatusServiceUnavailable, Detail: "the account store is unavailable", RetryAfter: 5 * time.Second, Err: err}
	}
	return tok, nil
}

// DeleteUser is DELETE /api/v1/users/{name} (admins only): the account
// goes with its sessions and publish keys; 409 for the last enabled admin.
func (a *API) DeleteUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminOnly(r); err != nil {
		return err
	}
	name := a.param(r, "name")
	err := a.h.store.DeleteUser(r.Context(), name)
	if errors.Is(err, ErrNotFound) {
		return noSuchUser(name)
	}
	if err != nil {
		return storeError(err, "user")
	}
	a.h.revoke(name, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
