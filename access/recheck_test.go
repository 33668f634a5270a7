package access_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/session"
)

// Sessions made with a revoked key, or by a user since deleted or
// disabled, end as revoked; the others keep running.
func TestRecheckEndsSessionsOfGoneOwners(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	revokedKey, keptKey := e.key(t, "bob", "live/show"), e.key(t, "bob", "live/other")
	byRevokedKey := e.open(t, "whip", "live/show", revokedKey)
	byKeptKey := e.open(t, "whip", "live/other", keptKey)
	carolViews := e.open(t, "whep", "users/bob", "carol")
	carolPublishes := e.open(t, "whip", "users/carol", "carol")
	daveViews := e.open(t, "whep", "live/other", "dave")
	bobViews := e.open(t, "whep", "live/other", "bob")
	recheckAll(t, e, 0)

	_, id, _ := strings.Cut(revokedKey, ":")
	if err := e.store.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	e.update(t, "dave", auth.UserUpdate{Disabled: new(true)})
	recheckAll(t, e, 4)
	for _, s := range []*session.Session{byRevokedKey, carolViews, carolPublishes, daveViews} {
		ended(t, s)
	}
	running(t, e, byKeptKey, bobViews)
}

// A viewer who may no longer view the stream ends: an anonymous viewer of
// a live stream that is no longer public (its publisher and signed-in
// viewers stay), whoever watches a person who now refuses (that person's
// own sessions stay), a viewer a camera no longer lists.
func TestRecheckEndsViewersWhoMayNoLongerView(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.store.SetStreamPublic(ctx, "live/show", true); err != nil {
		t.Fatal(err)
	}
	e.addCamera(t, "porch")
	publisher := e.open(t, "whip", "live/show", e.key(t, "bob", "live/show"))
	anonymous := e.open(t, "whep", "live/show", "")
	carolLive := e.open(t, "whep", "live/show", "carol")
	bobPublishes := e.open(t, "whip", "users/bob", "bob")
	bobSelf := e.open(t, "whep", "users/bob", "bob")
	bobWatches := e.open(t, "whep", "users/carol", "bob")
	carolWatches := e.open(t, "whep", "users/bob", "carol")
	adminWatches := e.open(t, "whep", "users/bob", "admin")
	carolCamera := e.open(t, "whep", "devices/porch", "carol")
	daveCamera := e.open(t, "whep", "devices/porch", "dave")
	recheckAll(t, e, 0)

	if err := e.store.SetStreamPublic(ctx, "live/show", false); err != nil {
		t.Fatal(err)
	}
	e.update(t, "bob", auth.UserUpdate{Watch: new(auth.WatchNobody)})
	e.addCamera(t, "porch", "carol")
	recheckAll(t, e, 4)
	for _, s := range []*session.Session{anonymous, carolWatches, adminWatches, daveCamera} {
		ended(t, s)
	}
	running(t, e, publisher, carolLive, bobPublishes, bobSelf, bobWatches, carolCamera)
}

// Recheck looks only at the streams match selects.
func TestRecheckOnlyMatchedStreams(t *testing.T) {
	e := newEnv(t)
	a := e.open(t, "whep", "live/a", "")
	b := e.open(t, "whep", "live/b", "")
	if n := e.rules.Recheck(t.Context(), func(st string) bool { return st == "live/a" }); n != 1 {
		t.Fatalf("Recheck of live/a ended %d sessions, want 1", n)
	}
	ended(t, a)
	running(t, e, b)
}

// Calls end their own sessions: a viewer of a call stream is kept even
// when the calls feature no longer knows the call.
func TestRecheckLeavesCallViewers(t *testing.T) {
	e := newEnv(t)
	viewer := e.open(t, "whep", "calls/c1/bob", "carol")
	publisher := e.open(t, "whip", "calls/c1/bob", "bob")
	recheckAll(t, e, 0)
	running(t, e, viewer, publisher)
}

// While the store fails nothing is decided: sessions that a working store
// would end keep running.
func TestRecheckKeepsSessionsOnStoreError(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	key := e.key(t, "bob", "live/show")
	publisher := e.open(t, "whip", "live/show", key)
	anonymous := e.open(t, "whep", "live/show", "")
	e.update(t, "carol", auth.UserUpdate{Watch: new(auth.WatchNobody)})
	bobWatches := e.open(t, "whep", "users/carol", "bob")
	e.addCamera(t, "vault", "carol")
	daveCamera := e.open(t, "whep", "devices/vault", "dave")
	_, id, _ := strings.Cut(key, ":")
	if err := e.store.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	recheckAll(t, e, 0)
	running(t, e, publisher, anonymous, bobWatches, daveCamera)
}

// A refusal to be watched takes effect at once: the calls feature hears
// of it, and the person's viewers end, but nothing else is re-checked.
func TestUserChangedRefusal(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var refused []string
	e.calls.refused = func(user string) {
		mu.Lock()
		defer mu.Unlock()
		refused = append(refused, user)
	}
	bobPublishes := e.open(t, "whip", "users/bob", "bob")
	carolWatches := e.open(t, "whep", "users/bob", "carol")
	// Not public: a full re-check would end these.
	var anonymous []*session.Session
	for _, name := range []string{"live/a", "live/b", "live/c"} {
		anonymous = append(anonymous, e.open(t, "whep", name, ""))
	}

	e.rules.UserChanged(t.Context(), e.update(t, "bob", auth.UserUpdate{Watch: new(auth.WatchNobody)}))
	if got := e.endedLogged(); !slices.Equal(got, []string{"carol@users/bob"}) {
		t.Errorf("ended %q, want carol's view of users/bob only", got)
	}
	ended(t, carolWatches)
	running(t, e, append(anonymous, bobPublishes)...)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(refused, []string{"bob"}) {
		t.Fatalf("calls told of refusals %q, want [bob]", refused)
	}
}

// A disabled user's sessions end at once, publishing and viewing.
func TestUserChangedDisabled(t *testing.T) {
	e := newEnv(t)
	e.calls.refused = func(user string) { t.Errorf("Refused(%q) for a disabled user", user) }
	davePublishes := e.open(t, "whip", "users/dave", "dave")
	daveViews := e.open(t, "whep", "users/bob", "dave")
	bobWatches := e.open(t, "whep", "users/dave", "bob")

	e.rules.UserChanged(t.Context(), e.update(t, "dave", auth.UserUpdate{Disabled: new(true)}))
	got := e.endedLogged()
	slices.Sort(got)
	if !slices.Equal(got, []string{"dave@users/bob", "dave@users/dave"}) {
		t.Errorf("ended %q, want dave's two sessions", got)
	}
	ended(t, davePublishes)
	ended(t, daveViews)
	running(t, e, bobWatches)
}

// Watch re-checks at its interval, and at once when told of a change made
// elsewhere (Changed); changes that come together share one re-check.
func TestWatchRechecksWhenChanged(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	key := e.key(t, "bob", "live/show")
	s := e.open(t, "whip", "live/show", key)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.rules.Watch(ctx, time.Hour)
	}()
	_, id, _ := strings.Cut(key, ":")
	if err := e.store.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.rules.Changed() // never blocks
	}
	ended(t, s)
	cancel()
	<-done
}
