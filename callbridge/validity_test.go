package callbridge

import (
	"context"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
)

// signIn signs user in on st and returns the session's id.
func signIn(t *testing.T, st *auth.Store, user, password string) string {
	t.Helper()
	sess, _, err := st.Login(t.Context(), user, password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return sess.ID
}

// isGone reports whether the bridge dropped f.
func isGone(f *feed) bool {
	select {
	case <-f.gone:
		return true
	default:
		return false
	}
}

// One check of all the open pages ends exactly those whose sign-in no
// longer lets them in, even when the change was made behind the
// bridge's back (another process on the store, a notification lost):
// a revoked session's page goes and the same user's other sign-in
// stays; a disabled user's pages (two tabs of one sign-in) all go. While
// the store cannot answer, every page stays.
func TestFeedCheckEndsRevokedPages(t *testing.T) {
	b, st, _, _ := newStoreBridge(t)
	ctx := t.Context()
	if _, err := st.CreateUser(ctx, auth.NewUser{Name: "carol", Password: "carol's password"}); err != nil {
		t.Fatal(err)
	}
	bob1, bob2 := signIn(t, st, "bob", "bob's password"), signIn(t, st, "bob", "bob's password")
	carol := signIn(t, st, "carol", "carol's password")
	open := func(user, token string) *feed {
		t.Helper()
		f, _, _, err := b.subscribe(user, token, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.unsubscribe(f) })
		return f
	}
	revoked, stays := open("bob", bob1), open("bob", bob2)
	tab1, tab2 := open("carol", carol), open("carol", carol)

	b.checkFeedsOnce(ctx)
	for _, f := range []*feed{revoked, stays, tab1, tab2} {
		if isGone(f) {
			t.Fatalf("%s's page (%s) dropped while everyone is signed in", f.user, f.token)
		}
	}
	if err := st.RevokeToken(ctx, bob1); err != nil {
		t.Fatal(err)
	}
	disabled := true
	if _, err := st.UpdateUser(ctx, "carol", auth.UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	b.checkFeedsOnce(ctx)
	if !isGone(revoked) || isGone(stays) {
		t.Errorf("after bob's first sign-in was revoked: its page gone %v (want true), the other's %v (want false)", isGone(revoked), isGone(stays))
	}
	if !isGone(tab1) || !isGone(tab2) {
		t.Errorf("carol disabled: her tabs gone %v and %v, want both", isGone(tab1), isGone(tab2))
	}

	if err := st.RevokeToken(ctx, bob2); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b.checkFeedsOnce(ctx)
	if isGone(stays) {
		t.Error("a page was dropped because the store could not be asked")
	}
}

// The bridge runs that check by itself every heartbeat.
func TestFeedCheckRunsEveryHeartbeat(t *testing.T) {
	b, st, _, _ := newStoreBridgeWith(t, Config{Heartbeat: 100 * time.Millisecond})
	tok := signIn(t, st, "bob", "bob's password")
	f, _, _, err := b.subscribe("bob", tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.unsubscribe(f) })
	if err := st.RevokeToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the page of a revoked sign-in was still open 5 s later (heartbeat 100 ms)")
	}
}
