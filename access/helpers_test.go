package access_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wishcast/wishcast/access"
	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
)

// password is every test user's password.
const password = "a long password"

// env is the permission rules on real parts: an account store with the
// users admin, bob, carol and dave, a hub, a session manager on its own
// pion API, a camera catalogue kept in the account store (as the server
// keeps it), and a fake calls feature.
type env struct {
	store    *auth.Store
	hub      *stream.Hub
	sessions *session.Manager
	cameras  *rtsp.Catalog
	calls    *fakeCalls
	rules    *access.Rules
	logs     *syncBuffer
	log      *slog.Logger
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{logs: &syncBuffer{}, calls: &fakeCalls{}}
	e.log = slog.New(slog.NewTextHandler(e.logs, nil))
	st, err := auth.Open(t.Context(), filepath.Join(t.TempDir(), auth.DefaultFileName),
		auth.Config{AdminPassword: password, PasswordTime: 1, PasswordMemory: 8192}, e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.store = st
	for _, name := range []string{"bob", "carol", "dave"} {
		if _, err := st.CreateUser(t.Context(), auth.NewUser{Name: name, Password: password}); err != nil {
			t.Fatal(err)
		}
	}
	e.hub = stream.NewHub(stream.Config{}, e.log)
	t.Cleanup(e.hub.Close)
	// Sessions are never negotiated here: the handshake timeout only has
	// to outlast the test.
	cfg := session.Config{UDPPort: 0, TCPPort: -1, Loopback: true, HostIPs: []string{"127.0.0.1"}, HandshakeTimeout: time.Minute}
	api, err := session.NewAPI(cfg, e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	e.sessions = session.NewManager(cfg, api, e.log)
	t.Cleanup(e.sessions.CloseAll)
	e.cameras = rtsp.NewCatalog(storeDevices{st})
	e.rules = access.New(access.Options{Accounts: st, Devices: e.cameras, Calls: e.calls,
		Sessions: e.sessions, Hub: e.hub, Log: e.log})
	return e
}

// open starts a session as WHIP ("whip") or WHEP ("whep") would once
// Authorize let owner in ("" anonymous, "user", or "user:keyID").
func (e *env) open(t *testing.T, protocol, name, owner string) *session.Session {
	t.Helper()
	s, err := e.sessions.New(protocol, name, session.Creator{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// key creates a publish key of user for stream and returns the owner its
// sessions carry ("user:keyID").
func (e *env) key(t *testing.T, user, name string) string {
	t.Helper()
	tok, _, err := e.store.CreateToken(t.Context(), user, auth.Scope{Action: auth.ActionPublish, Stream: name}, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + tok.ID
}

// keyToken creates a publish key of user for stream and returns its secret.
func (e *env) keyToken(t *testing.T, user, name string) string {
	t.Helper()
	_, secret, err := e.store.CreateToken(t.Context(), user, auth.Scope{Action: auth.ActionPublish, Stream: name}, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// update changes a user in the store and returns the new account.
func (e *env) update(t *testing.T, name string, up auth.UserUpdate) auth.User {
	t.Helper()
	u, err := e.store.UpdateUser(t.Context(), name, up)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// addCamera stores a camera (at an address no test dials).
func (e *env) addCamera(t *testing.T, name string, viewers ...string) {
	t.Helper()
	d := rtsp.Device{Name: name, URL: "rtsp://10.0.0.5/" + name, Restricted: len(viewers) > 0, Viewers: viewers}
	if err := e.cameras.Add(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

// ended waits for s to end and checks it ended as revoked.
func ended(t *testing.T, s *session.Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("session of %q on %s still runs", s.Owner, s.Stream)
	}
	if r := s.CloseReason(); r != session.ReasonRevoked {
		t.Fatalf("session of %q on %s ended %q, want %q", s.Owner, s.Stream, r, session.ReasonRevoked)
	}
}

// running checks that the sessions still run.
func running(t *testing.T, e *env, ss ...*session.Session) {
	t.Helper()
	for _, s := range ss {
		if e.sessions.Get(s.ID) == nil || s.CloseReason() != "" {
			t.Errorf("session of %q on %s ended (%q); it should run", s.Owner, s.Stream, s.CloseReason())
		}
	}
}

// recheckAll re-checks every session and checks how many it ended.
func recheckAll(t *testing.T, e *env, want int) {
	t.Helper()
	if n := e.rules.Recheck(t.Context(), func(string) bool { return true }); n != want {
		t.Fatalf("Recheck ended %d sessions, want %d", n, want)
	}
}

// endedRe matches Recheck's log line for a session it ends.
var endedRe = regexp.MustCompile(`msg="ending [^"]*".* stream=(\S+) owner=(\S*)`)

// endedLogged returns "owner@stream" for each session the rules ended, in
// log order. Recheck logs a session before it closes it in the
// background, so the list is complete once Recheck has returned.
func (e *env) endedLogged() []string {
	var out []string
	for _, m := range endedRe.FindAllStringSubmatch(e.logs.String(), -1) {
		out = append(out, m[2]+"@"+m[1])
	}
	return out
}

// sameInfo compares stream information (a nil and an empty viewer list
// are the same).
func sameInfo(a, b auth.StreamInfo) bool {
	return a.Caller == b.Caller && a.Callee == b.Callee && a.Public == b.Public &&
		a.Restricted == b.Restricted && a.Private == b.Private && slices.Equal(a.Viewers, b.Viewers)
}

// fakeCalls is the calls feature: StreamInfo and Refused do what the test
// sets (nothing by default).
type fakeCalls struct {
	streamInfo func(name string) auth.StreamInfo
	refused    func(user string)
}

func (f *fakeCalls) StreamInfo(_ context.Context, name string) auth.StreamInfo {
	if f.streamInfo == nil {
		return auth.StreamInfo{}
	}
	return f.streamInfo(name)
}

func (f *fakeCalls) Refused(user string) {
	if f.refused != nil {
		f.refused(user)
	}
}

// storeDevices keeps cameras in the account store, as the server does, so
// that a store failure is a camera look-up failure too.
type storeDevices struct{ st *auth.Store }

func (d storeDevices) ListDevices(ctx context.Context) ([]rtsp.Device, error) {
	list, err := d.st.ListDevices(ctx)
	out := make([]rtsp.Device, 0, len(list))
	for _, a := range list {
		out = append(out, fromStore(a))
	}
	return out, err
}

func (d storeDevices) GetDevice(ctx context.Context, name string) (rtsp.Device, error) {
	a, err := d.st.GetDevice(ctx, name)
	if errors.Is(err, auth.ErrNotFound) {
		return rtsp.Device{}, fmt.Errorf("%w %q", rtsp.ErrUnknownDevice, name)
	}
	return fromStore(a), err
}

func (d storeDevices) PutDevice(ctx context.Context, dev rtsp.Device) error {
	_, err := d.st.PutDevice(ctx, auth.Device{Name: dev.Name, URL: dev.URL, Restricted: dev.Restricted, Viewers: dev.Viewers})
	return err
}

func (d storeDevices) DeleteDevice(ctx context.Context, name string) error {
	return d.st.DeleteDevice(ctx, name)
}

func fromStore(a auth.Device) rtsp.Device {
	return rtsp.Device{Name: a.Name, URL: a.URL, Transport: rtsp.TransportAuto, Restricted: a.Restricted, Viewers: a.Viewers}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
