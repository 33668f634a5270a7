package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wishcast/wishcast/httpx"
)

// Principals for the permission tables.
var (
	pAlice = &Principal{User: "alice", Role: RoleUser, Kind: PrincipalSession, TokenID: "s1"}
	pBob   = &Principal{User: "bob", Role: RoleUser, Kind: PrincipalSession, TokenID: "s2"}
	pCarol = &Principal{User: "carol", Role: RoleUser, Kind: PrincipalSession, TokenID: "s3"}
	pAdmin = &Principal{User: "root", Role: RoleAdmin, Kind: PrincipalSession, TokenID: "s4"}
)

// key returns a publish-key principal.
func key(owner string, a Action, stream string) *Principal {
	return &Principal{User: owner, Kind: PrincipalKey, Scope: &Scope{Action: a, Stream: stream}, TokenID: "k-" + owner}
}

func TestAuthorize(t *testing.T) {
	call := StreamInfo{Caller: "alice", Callee: "bob"}
	public := StreamInfo{Public: true}
	private := StreamInfo{Private: true}
	chosen := UserStreamInfo(User{Name: "alice", Watch: WatchChosen, Answer: AnswerEveryone, Chosen: []string{"bob"}})
	restricted := StreamInfo{Restricted: true, Viewers: []string{"alice"}}
	const (
		ok     = "ok"
		unauth = "401"
		forbid = "403"
		inval  = "400"
	)
	pub, view := ActionPublish, ActionView
	for _, c := range []struct {
		who    string
		p      *Principal
		action Action
		stream string
		info   StreamInfo
		want   string
	}{
		// users/{u}: published only by u, viewed by signed-in users.
		{"anon", nil, pub, "users/alice", StreamInfo{}, unauth},
		{"anon", nil, view, "users/alice", StreamInfo{}, unauth},
		{"alice", pAlice, pub, "users/alice", StreamInfo{}, ok},
		{"alice", pAlice, pub, "users/Alice", StreamInfo{}, forbid},
		{"bob", pBob, pub, "users/alice", StreamInfo{}, forbid},
		{"bob", pBob, view, "users/alice", StreamInfo{}, ok},
		{"alice", pAlice, view, "users/alice", StreamInfo{}, ok},
		{"admin", pAdmin, pub, "users/alice", StreamInfo{}, ok},
		{"admin", pAdmin, view, "users/alice", StreamInfo{}, ok},
		{"alice's key publish users/alice", key("alice", pub, "users/alice"), pub, "users/alice", StreamInfo{}, ok},
		{"alice's key publish users/alice", key("alice", pub, "users/alice"), view, "users/alice", StreamInfo{}, forbid},
		{"alice's key publish users/alice", key("alice", pub, "users/alice"), pub, "users/bob", StreamInfo{}, forbid},
		{"alice's key publish users/", key("alice", pub, "users/"), pub, "users/bob", StreamInfo{}, forbid},
		{"admin's key publish users/bob", key("root", pub, "users/bob"), pub, "users/bob", StreamInfo{}, forbid},
		{"bob's key view users/alice", key("bob", view, "users/alice"), view, "users/alice", StreamInfo{}, ok},
		// A user who refuses to be watched: nobody else, admins included.
		{"bob, alice refuses", pBob, view, "users/alice", private, forbid},
		{"admin, alice refuses", pAdmin, view, "users/alice", private, forbid},
		{"anon, alice refuses", nil, view, "users/alice", private, unauth},
		{"alice herself", pAlice, view, "users/alice", private, ok},
		{"alice publishes anyway", pAlice, pub, "users/alice", private, ok},
		{"bob, chosen by alice", pBob, view, "users/alice", chosen, ok},
		{"carol, not chosen", pCarol, view, "users/alice", chosen, forbid},
		{"admin, not chosen", pAdmin, view, "users/alice", chosen, forbid},
		{"carol's key, not chosen", key("carol", view, "users/alice"), view, "users/alice", chosen, forbid},
		{"alice herself, choosing", pAlice, view, "users/alice", chosen, ok},
		{"anon, alice chooses", nil, view, "users/alice", chosen, unauth},

		// calls/{id}/{u}: published by participant u, viewed by the other one.
		{"alice", pAlice, pub, "calls/c1/alice", call, ok},
		{"bob", pBob, pub, "calls/c1/bob", call, ok},
		{"alice", pAlice, pub, "calls/c1/bob", call, forbid},
		{"carol", pCarol, pub, "calls/c1/carol", call, forbid},
		{"alice, unknown call", pAlice, pub, "calls/c1/alice", StreamInfo{}, forbid},
		{"alice, call with herself", pAlice, pub, "calls/c1/alice", StreamInfo{Caller: "alice", Callee: "alice"}, forbid},
		{"alice", pAlice, view, "calls/c1/bob", call, ok},
		{"bob", pBob, view, "calls/c1/alice", call, ok},
		{"alice", pAlice, view, "calls/c1/alice", call, forbid},
		{"carol", pCarol, view, "calls/c1/alice", call, forbid},
		{"alice", pAlice, view, "calls/c1/carol", call, forbid},
		{"bob, unknown call", pBob, view, "calls/c1/alice", StreamInfo{}, forbid},
		{"anon", nil, view, "calls/c1/alice", call, unauth},
		{"anon", nil, pub, "calls/c1/alice", call, unauth},
		{"admin, not in the call", pAdmin, view, "calls/c1/alice", call, forbid},
		{"admin, not in the call", pAdmin, pub, "calls/c1/alice", call, forbid},
		{"admin in the call", pAdmin, view, "calls/c1/alice", StreamInfo{Caller: "alice", Callee: "root"}, ok},
		{"admin in the call", pAdmin, pub, "calls/c1/root", StreamInfo{Caller: "alice", Callee: "root"}, ok},
		{"alice's key view calls/c1/bob", key("alice", view, "calls/c1/bob"), view, "calls/c1/bob", call, ok},
		{"alice's key view calls/c1/bob", key("alice", view, "calls/c1/bob"), view, "calls/c1/alice", call, forbid},
		{"carol's key view calls/", key("carol", view, "calls/"), view, "calls/c1/bob", call, forbid},
		{"short call name", pAlice, pub, "calls/c1", call, inval},

		// devices/{d}: viewed by signed-in users (or the listed ones), never published.
		{"anon", nil, view, "devices/cam", StreamInfo{}, unauth},
		{"alice", pAlice, view, "devices/cam", StreamInfo{}, ok},
		{"bob", pBob, view, "devices/cam", StreamInfo{}, ok},
		{"alice, restricted", pAlice, view, "devices/cam", restricted, ok},
		{"bob, restricted", pBob, view, "devices/cam", restricted, forbid},
		{"admin, restricted", pAdmin, view, "devices/cam", restricted, ok},
		{"anon", nil, pub, "devices/cam", StreamInfo{}, forbid},
		{"alice", pAlice, pub, "devices/cam", StreamInfo{}, forbid},
		{"admin", pAdmin, pub, "devices/cam", StreamInfo{}, forbid},
		{"admin's key publish devices/", key("root", pub, "devices/"), pub, "devices/cam", StreamInfo{}, forbid},
		{"alice's key view devices/cam", key("alice", view, "devices/cam"), view, "devices/cam", StreamInfo{}, ok},
		{"alice's key view devices/cam", key("alice", view, "devices/cam"), view, "devices/door", StreamInfo{}, forbid},
		{"admin's key view devices/, restricted", key("root", view, "devices/"), view, "devices/cam", restricted, forbid},
		// A public camera: anyone views it, as a public live stream; nobody publishes it.
		{"anon, public camera", nil, view, "devices/cam", public, ok},
		{"bob, public camera", pBob, view, "devices/cam", public, ok},
		{"alice's key publish live/show, public camera", key("alice", pub, "live/show"), view, "devices/cam", public, ok},
		{"anon publishes a public camera", nil, pub, "devices/cam", public, forbid},
		{"admin publishes a public camera", pAdmin, pub, "devices/cam", public, forbid},
		// Restricted wins over public: the listed viewers only.
		{"anon, public restricted camera", nil, view, "devices/cam", StreamInfo{Public: true, Restricted: true, Viewers: []string{"alice"}}, unauth},
		{"bob, public restricted camera", pBob, view, "devices/cam", StreamInfo{Public: true, Restricted: true, Viewers: []string{"alice"}}, forbid},
		{"alice, public restricted camera", pAlice, view, "devices/cam", StreamInfo{Public: true, Restricted: true, Viewers: []string{"alice"}}, ok},
		// Public means nothing elsewhere.
		{"anon, users/ marked public", nil, view, "users/alice", public, unauth},
		{"carol, call marked public", pCarol, view, "calls/c1/alice", StreamInfo{Caller: "alice", Callee: "bob", Public: true}, forbid},

		// live/{name}: published with a key for it, viewed by signed-in users or anyone if public.
		{"anon", nil, view, "live/show", StreamInfo{}, unauth},
		{"anon", nil, view, "live/show", public, ok},
		{"anon", nil, pub, "live/show", public, unauth},
		{"alice", pAlice, view, "live/show", StreamInfo{}, ok},
		{"alice", pAlice, pub, "live/show", StreamInfo{}, forbid},
		{"admin", pAdmin, pub, "live/show", StreamInfo{}, ok},
		{"alice's key publish live/show", key("alice", pub, "live/show"), pub, "live/show", StreamInfo{}, ok},
		{"alice's key publish live/show", key("alice", pub, "live/show"), pub, "live/other", StreamInfo{}, forbid},
		{"alice's key publish live/show", key("alice", pub, "live/show"), view, "live/show", StreamInfo{}, forbid},
		{"alice's key publish live/show", key("alice", pub, "live/show"), view, "live/show", public, ok},
		{"admin's key publish live/", key("root", pub, "live/"), pub, "live/a/b/c", StreamInfo{}, ok},
		{"admin's key publish live/", key("root", pub, "live/"), pub, "users/root", StreamInfo{}, forbid},
		{"bob's key view live/", key("bob", view, "live/"), view, "live/x", StreamInfo{}, ok},
		{"bob's key view live/", key("bob", view, "live/"), pub, "live/x", StreamInfo{}, forbid},

		// Names, actions and principals outside the rules.
		{"admin", pAdmin, view, "other/x", StreamInfo{}, inval},
		{"anon", nil, view, "live", public, inval},
		{"admin", pAdmin, view, "live/../x", StreamInfo{}, inval},
		{"admin", pAdmin, "delete", "live/x", StreamInfo{}, inval},
		// One rule for case: names compare exactly, in every namespace.
		{"alice, other spelling", pAlice, pub, "users/ALICE", StreamInfo{}, forbid},
		{"alice views herself as Alice, refusing", pAlice, view, "users/Alice", private, forbid},
		{"alice publishes into a call as Alice", pAlice, pub, "calls/c1/Alice", call, forbid},
		{"Alice's call spelled alice", pAlice, pub, "calls/c1/alice", StreamInfo{Caller: "Alice", Callee: "bob"}, forbid},
		{"alice views bob as BOB in a call", pAlice, view, "calls/c1/BOB", call, forbid},
		{"camera lists ALICE", pAlice, view, "devices/cam", StreamInfo{Restricted: true, Viewers: []string{"ALICE"}}, forbid},
		{"key for users/Alice", key("alice", pub, "users/Alice"), pub, "users/alice", StreamInfo{}, forbid},
		{"key without scope", &Principal{User: "alice", Kind: PrincipalKey}, pub, "users/alice", StreamInfo{}, forbid},
		{"kindless admin", &Principal{User: "root", Role: RoleAdmin}, pub, "users/alice", StreamInfo{}, forbid},
	} {
		err := Authorize(c.p, c.action, c.stream, c.info)
		got := ok
		switch {
		case errors.Is(err, ErrUnauthenticated):
			got = unauth
		case errors.Is(err, ErrForbidden):
			got = forbid
		case errors.Is(err, ErrInvalid):
			got = inval
		case err != nil:
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %s %s (%+v) = %s (%v), want %s", c.who, c.action, c.stream, c.info, got, err, c.want)
		}
	}
}

func TestCanManageSession(t *testing.T) {
	aliceKey := key("alice", ActionPublish, "live/show")
	for _, c := range []struct {
		who   string
		p     *Principal
		owner string
		want  bool
	}{
		{"alice, own", pAlice, pAlice.Subject(), true},
		{"alice, made by her key", pAlice, aliceKey.Subject(), true},
		{"bob, alice's", pBob, pAlice.Subject(), false},
		{"bob, alice's key's", pBob, aliceKey.Subject(), false},
		{"admin, alice's", pAdmin, pAlice.Subject(), true},
		{"key, own", aliceKey, aliceKey.Subject(), true},
		{"key, its owner's session", aliceKey, pAlice.Subject(), false},
		{"key, another key's", aliceKey, key("alice", ActionPublish, "live/x").Subject() + "x", false},
		{"admin's key, alice's", key("root", ActionPublish, "live/"), pAlice.Subject(), false},
		{"anon, alice's", nil, pAlice.Subject(), false},
		{"anon, anonymous (the client check decides)", nil, (*Principal)(nil).Subject(), false},
		{"alice, anonymous", pAlice, "", false},
		{"admin, anonymous", pAdmin, "", true},
		{"al, alice's (prefix is not ownership)", &Principal{User: "al", Kind: PrincipalSession}, "alice", false},
	} {
		if got := CanManageSession(c.p, c.owner); got != c.want {
			t.Errorf("%s: CanManageSession(%q) = %v, want %v", c.who, c.owner, got, c.want)
		}
	}
}

// An anonymous session answers only the client that created it (its
// address, IPv6 per /64), or an admin; anyone else learns nothing (404).
func TestSessionAccessAnonymous(t *testing.T) {
	h := NewHandlers(openTest(t), nil)
	req := func(addr string, p *Principal) *http.Request {
		r := httptest.NewRequest(http.MethodDelete, "/sessions/x", nil)
		r.RemoteAddr = addr
		if p != nil {
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		return r
	}
	creator := ClientGroup(req("[2001:db8:1:2::5]:4000", nil))
	for _, c := range []struct {
		who  string
		r    *http.Request
		want int
	}{
		{"same address", req("[2001:db8:1:2::5]:5000", nil), 0},
		{"same /64", req("[2001:db8:1:2::99]:5000", nil), 0},
		{"other /64", req("[2001:db8:1:3::5]:5000", nil), http.StatusNotFound},
		{"other client signed in", req("192.0.2.7:5000", pBob), http.StatusNotFound},
		{"admin elsewhere", req("192.0.2.7:5000", pAdmin), 0},
	} {
		err := h.SessionAccess(c.r, "", creator)
		got := 0
		var he *httpx.Error
		if errors.As(err, &he) {
			got = he.Status
		} else if err != nil {
			got = -1
		}
		if got != c.want {
			t.Errorf("%s: %v, want status %d", c.who, err, c.want)
		}
	}
	if err := h.SessionAccess(req("[2001:db8:1:2::5]:4000", nil), "", ""); err == nil {
		t.Error("an anonymous session with no recorded client is open to anyone")
	}
}

func TestCanCreateToken(t *testing.T) {
	for _, c := range []struct {
		who   string
		p     *Principal
		owner string
		scope Scope
		want  error
	}{
		{"anon", nil, "alice", Scope{ActionPublish, "users/alice"}, ErrUnauthenticated},
		{"alice, own stream", pAlice, "alice", Scope{ActionPublish, "users/alice"}, nil},
		{"alice, own stream view", pAlice, "alice", Scope{ActionView, "users/alice"}, nil},
		{"alice, live", pAlice, "alice", Scope{ActionPublish, "live/show"}, ErrForbidden},
		{"alice, users/ prefix", pAlice, "alice", Scope{ActionPublish, "users/"}, ErrForbidden},
		{"alice, for bob", pAlice, "bob", Scope{ActionPublish, "users/bob"}, ErrForbidden},
		{"admin, live prefix for bob", pAdmin, "bob", Scope{ActionPublish, "live/"}, nil},
		{"key", key("root", ActionPublish, "live/"), "root", Scope{ActionPublish, "live/x"}, ErrForbidden},
	} {
		if err := CanCreateToken(c.p, c.owner, c.scope); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: CanCreateToken = %v, want %v", c.who, err, c.want)
		}
	}
}
