package access_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wishcast/wishcast/auth"
)

// Each namespace's stream information comes from where it is kept: a
// person's refusal from their account, a live stream's public flag from
// the stream settings, a camera's viewers from the catalogue, a call's
// participants from the calls feature.
func TestStreamInfoPerNamespace(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.update(t, "carol", auth.UserUpdate{Watch: new(auth.WatchNobody)})
	if err := e.store.SetStreamPublic(ctx, "live/show", true); err != nil {
		t.Fatal(err)
	}
	e.addCamera(t, "vault", "carol")
	e.addCamera(t, "porch")
	e.addCamera(t, "lobby")
	if err := e.store.SetStreamPublic(ctx, "devices/lobby", true); err != nil {
		t.Fatal(err)
	}
	e.calls.streamInfo = func(name string) auth.StreamInfo {
		if strings.HasPrefix(name, "calls/c1/") {
			return auth.StreamInfo{Caller: "bob", Callee: "carol"}
		}
		return auth.StreamInfo{}
	}
	for _, tc := range []struct {
		name string
		want auth.StreamInfo
	}{
		{"users/bob", auth.StreamInfo{}},
		{"users/carol", auth.StreamInfo{Private: true}},
		{"users/nobody", auth.StreamInfo{}},
		{"live/show", auth.StreamInfo{Public: true}},
		{"live/other", auth.StreamInfo{}},
		{"devices/vault", auth.StreamInfo{Restricted: true, Viewers: []string{"carol"}}},
		{"devices/porch", auth.StreamInfo{}},
		{"devices/lobby", auth.StreamInfo{Public: true}},
		{"devices/unknown", auth.StreamInfo{}},
		{"calls/c1/bob", auth.StreamInfo{Caller: "bob", Callee: "carol"}},
		{"calls/c2/bob", auth.StreamInfo{}},
	} {
		got, err := e.rules.StreamInfo(ctx, tc.name)
		if err != nil || !sameInfo(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

// When the store fails, StreamInfo says so and still gives the answer that
// is safe to act on: nobody else views a person, only admins view a
// camera, a live stream is not public. SafeStreamInfo uses that answer and
// leaves a warning for the operator.
func TestStreamInfoWhenStoreFails(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.store.SetStreamPublic(ctx, "live/show", true); err != nil {
		t.Fatal(err)
	}
	e.addCamera(t, "porch")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	bob := &auth.Principal{User: "bob", Role: auth.RoleUser, Kind: auth.PrincipalSession}
	for _, tc := range []struct {
		name   string
		want   auth.StreamInfo
		bobMay bool // signed-in users view live streams, public or not
	}{
		{"users/carol", auth.StreamInfo{Private: true}, false},
		{"devices/porch", auth.StreamInfo{Restricted: true}, false},
		{"live/show", auth.StreamInfo{}, true},
	} {
		got, err := e.rules.StreamInfo(ctx, tc.name)
		if err == nil || !sameInfo(got, tc.want) {
			t.Errorf("%s with the store closed: %+v, %v; want %+v and an error", tc.name, got, err, tc.want)
		}
		got = e.rules.SafeStreamInfo(ctx, tc.name)
		if !sameInfo(got, tc.want) {
			t.Errorf("%s: SafeStreamInfo %+v, want %+v", tc.name, got, tc.want)
		}
		if err := auth.Authorize(bob, auth.ActionView, tc.name, got); !tc.bobMay && !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("bob views %s while the store is down: %v", tc.name, err)
		}
		if err := auth.Authorize(nil, auth.ActionView, tc.name, got); err == nil {
			t.Errorf("anonymous views %s while the store is down", tc.name)
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "stream="+tc.name) {
			t.Errorf("no warning for %s in the log:\n%s", tc.name, logs)
		}
	}
}
