package callbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/stream"
)

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

// noSessions is a Sessions with none running.
type noSessions struct{}

func (noSessions) Each(func(protocol, stream, owner string)) {}
func (noSessions) CloseWhere(func(protocol, stream, owner string) bool, string) int {
	return 0
}

// newStoreBridge returns a bridge on a real account store (with user bob)
// and hub, logging into the returned buffer.
func newStoreBridge(t *testing.T) (*Bridge, *auth.Store, *stream.Hub, *syncBuffer) {
	t.Helper()
	return newStoreBridgeWith(t, Config{})
}

// newStoreBridgeWith is newStoreBridge with cfg.
func newStoreBridgeWith(t *testing.T, cfg Config) (*Bridge, *auth.Store, *stream.Hub, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	st, err := auth.Open(t.Context(), filepath.Join(t.TempDir(), "wishcast.db"),
		auth.Config{AdminPassword: "admin password", PasswordTime: 1, PasswordMemory: 8192}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.CreateUser(t.Context(), auth.NewUser{Name: "bob", Password: "bob's password"}); err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.Config{}, log)
	t.Cleanup(hub.Close)
	b := New(Options{Config: cfg, Hub: hub, Accounts: st, Sessions: noSessions{}, Log: log})
	t.Cleanup(b.Close)
	return b, st, hub, logs
}

// A database that fails while a viewer asks for a person's camera is a
// fault the viewer hears as "try again" (ErrSourceUnavailable, a 503)
// and the operator sees in the log, not "there is no user bob".
func TestWatchStoreFailure(t *testing.T) {
	_, st, hub, logs := newStoreBridge(t)
	_, err := hub.Acquire(t.Context(), "users/nobody")
	if err == nil || errors.Is(err, stream.ErrSourceUnavailable) || !strings.Contains(err.Error(), "there is no user nobody") {
		t.Fatalf("an unknown user: %v", err)
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = hub.Acquire(t.Context(), "users/bob")
	if !errors.Is(err, stream.ErrSourceUnavailable) {
		t.Fatalf("with the database gone: %v; want ErrSourceUnavailable", err)
	}
	if strings.Contains(err.Error(), "no user") {
		t.Fatalf("a database failure reads as a missing user: %v", err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "user=bob") {
		t.Fatalf("the failure was not logged as an error:\n%s", logs)
	}
}

// When a viewer opens a person's camera, the publish-request their page
// gets names the video codecs that viewer decodes, in the viewer's order,
// and so does the hello of a page that (re)connects while the viewer
// waits: the page then sends a codec the viewer can play.
func TestPublishRequestCarriesViewerCodecs(t *testing.T) {
	b, _, hub, _ := newStoreBridge(t)
	f, _, _, err := b.subscribe("bob", "t1", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(stream.WithDecoders(t.Context(), []string{"VP8", "VP9", "AV1"}))
	defer cancel()
	go func() { _, _ = hub.Acquire(ctx, "users/bob") }() // waits for bob's page
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-f.ch:
			if e.typ != "publish-request" {
				continue
			}
			var d struct {
				Stream string   `json:"stream"`
				Codecs []string `json:"codecs"`
			}
			if err := json.Unmarshal(e.data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Stream != "users/bob" || !slices.Equal(d.Codecs, []string{"VP8", "VP9", "AV1"}) {
				t.Fatalf("publish-request %s; want users/bob with codecs VP8, VP9, AV1", e.data)
			}
			_, _, hello, err := b.subscribe("bob", "t2", 0)
			if err != nil {
				t.Fatal(err)
			}
			if hello["publish_request"] != "users/bob" || !slices.Equal(hello["publish_codecs"].([]string), d.Codecs) {
				t.Fatalf("a page that connects while the viewer waits gets hello %v", hello)
			}
			return
		case <-deadline:
			t.Fatal("no publish-request for bob's page")
		}
	}
}
