package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wishcast/wishcast/httpx"
)

// maxAPIBody bounds a JSON request body of the accounts API.
const maxAPIBody = 16 << 10

// API serves the JSON API for accounts and publish keys under /api/v1:
// users (list, create, change, set password, delete) and tokens (list,
// create, revoke). Only people signed in with a session use it; publish
// keys are for media and get 403 here.
type API struct {
	h     *Handlers
	param func(r *http.Request, name string) string
}

// API returns the accounts API of h. param reads a URL parameter of the
// router ("name" and "id" in the routes below), such as chi.URLParam.
//
//	GET    /api/v1/users
//	POST   /api/v1/users
//	PATCH  /api/v1/users/{name}
//	POST   /api/v1/users/{name}/password
//	DELETE /api/v1/users/{name}
//	GET    /api/v1/tokens
//	POST   /api/v1/tokens
//	DELETE /api/v1/tokens/{id}
func (h *Handlers) API(param func(r *http.Request, name string) string) *API {
	return &API{h: h, param: param}
}

// signedIn returns the request's principal if it is a user signed in with
// a session: anonymous requests are 401, publish keys 403.
func signedIn(r *http.Request) (*Principal, error) {
	p := PrincipalFrom(r.Context())
	switch {
	case p == nil:
		return nil, unauthorized("sign in first", false)
	case p.Kind != PrincipalSession:
		return nil, httpx.Errorf(http.StatusForbidden, "publish keys are for media only; sign in with a password to use this API")
	}
	return p, nil
}

// adminOnly is signedIn for the requests only admins may make.
func adminOnly(r *http.Request) (*Principal, error) {
	p, err := signedIn(r)
	if err != nil {
		return nil, err
	}
	if !p.IsAdmin() {
		return nil, httpx.Errorf(http.StatusForbidden, "only admins may do this")
	}
	return p, nil
}

// readJSON decodes the request's JSON body into v: 415 unless the body is
// application/json, 413 past maxAPIBody, 400 for malformed JSON, unknown
// fields or trailing data.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if !httpx.MediaTypeIs(r, "application/json") {
		accept := "Accept-Post"
		if r.Method == http.MethodPatch {
			accept = "Accept-Patch"
		}
		return httpx.Errorf(http.StatusUnsupportedMediaType, "send the body as application/json").WithHeader(accept, "application/json")
	}
	body, err := httpx.ReadBody(w, r, maxAPIBody)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httpx.Errorf(http.StatusBadRequest, "the body is not the JSON object expected: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return httpx.Errorf(http.StatusBadRequest, "the body has data after the JSON object")
	}
	return nil
}

// storeError maps a store error to its HTTP answer; what names the thing
// looked for in a 404. Other errors are returned as they are (a logged 500).
func storeError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrLastAdmin):
		return httpx.Errorf(http.StatusConflict, "%v", ErrLastAdmin)
	case errors.Is(err, ErrExists):
		return httpx.Errorf(http.StatusConflict, "%s already exists", what)
	case errors.Is(err, ErrNotFound):
		return httpx.Errorf(http.StatusNotFound, "no such %s", what)
	case errors.Is(err, ErrInvalid):
		return httpx.Errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, ErrForbidden):
		return httpx.Errorf(http.StatusForbidden, "%v", err)
	}
	return err
}

// apiUser is a user in the API, without the password hash.
type apiUser struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Role        Role      `json:"role"`
	Disabled    bool      `json:"disabled"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	// AllowWatch says whether the one asking may watch this user (for
	// the user and admins: whether anyone may); WatchAsks that the user
	// is asked each time.
	AllowWatch bool `json:"allow_watch"`
	WatchAsks  bool `json:"watch_asks"`
	Online     bool `json:"online"`
	Publishing bool `json:"publishing"`
	// The user's choices, shown to the user and admins only.
	*apiChoices
}

// apiChoices are a user's choices about being watched and called.
type apiChoices struct {
	Watch  WatchPolicy  `json:"watch"`
	Answer AnswerPolicy `json:"answer"`
	Chosen []string     `json:"chosen"`
	// AutoAnswer is true when every call is answered at once.
	AutoAnswer bool `json:"auto_answer"`
	NoticeSeen bool `json:"notice_seen"`
	// ChangePassword: the account still has the password the server set up.
	ChangePassword bool `json:"change_password"`
}

// choicesOf is u's choices for the API.
func choicesOf(u User) *apiChoices {
	chosen := u.Chosen
	if chosen == nil {
		chosen = []string{}
	}
	return &apiChoices{Watch: u.Watch, Answer: u.Answer, Chosen: chosen, AutoAnswer: u.Answer == AnswerEveryone,
		NoticeSeen: u.NoticeSeen, ChangePassword: u.ChangePassword}
}

// apiUserOf is u as the API shows it to viewer (nil: the user or an admin).
func (a *API) apiUserOf(u User, viewer *Principal) apiUser {
	out := apiUser{Name: u.Name, DisplayName: u.DisplayName, Role: u.Role, Disabled: u.Disabled, LastSeen: u.LastSeen,
		AllowWatch: u.AllowsWatch(), WatchAsks: u.Watch == WatchAsk}
	if a.h.presence != nil {
		out.Online, out.Publishing = a.h.presence(u.Name)
	}
	if viewer == nil || viewer.IsAdmin() || strings.EqualFold(viewer.User, u.Name) {
		out.apiChoices = choicesOf(u)
	} else {
		out.AllowWatch = u.MayWatch(viewer.User)
	}
	return out
}

// apiScope is a publish key's scope in the API.
type apiScope struct {
	Action Action `json:"action"`
	Stream string `json:"stream"`
}

// apiToken is a session or publish key in the API, never its secret.
type apiToken struct {
	ID         string        `json:"id"`
	Kind       PrincipalKind `json:"kind"`
	Owner      string        `json:"owner"`
	Scope      *apiScope     `json:"scope,omitempty"`
	Label      string        `json:"label,omitempty"`
	ClientAddr string        `json:"client_addr,omitempty"`
	Created    time.Time     `json:"created"`
	Expires    time.Time     `json:"expires,omitzero"`
	// Current marks the session the request was made with.
	Current bool `json:"current,omitempty"`
}

func apiTokenOf(t Token, p *Principal) apiToken {
	out := apiToken{ID: t.ID, Kind: t.Kind, Owner: t.Owner, Label: t.Label, ClientAddr: t.ClientAddr,
		Created: t.Created, Expires: t.Expires, Current: p != nil && p.TokenID == t.ID}
	if t.Kind == PrincipalKey {
		out.Scope = &apiScope{Action: t.Scope.Action, Stream: t.Scope.Stream}
	}
	return out
}

// noSuchUser is the 404 of the user routes.
func noSuchUser(name string) error {
	return httpx.Errorf(http.StatusNotFound, "no such user %q", clip(name))
}
