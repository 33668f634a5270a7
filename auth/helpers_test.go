package auth

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testAdminPassword is the configured first-admin password of testConfig.
const testAdminPassword = "admin-password-1"

// testConfig is a configuration with cheap password hashing, so that tests
// under -race stay fast; tests of the real cost set their own.
func testConfig() Config {
	return Config{
		AdminPassword:    testAdminPassword,
		PasswordTime:     1,
		PasswordMemory:   64,
		PasswordThreads:  1,
		LoginConcurrency: 8,
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for slog.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// openAt opens a store at path with cfg, logging into the returned buffer,
// and closes it when the test ends.
func openAt(t testing.TB, path string, cfg Config) (*Store, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Open(context.Background(), path, cfg, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, buf
}

// openTest opens a fresh store in a temporary directory.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, _ := openAt(t, filepath.Join(t.TempDir(), DefaultFileName), testConfig())
	return s
}

// fakeClock is a settable clock for expiry and rate-limit tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustUser creates a user with a password of name+"-password".
func mustUser(t testing.TB, s *Store, name string, role Role) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Name: name, Password: name + "-password", Role: role})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// mustLogin signs a user created by mustUser in and returns the token.
func mustLogin(t testing.TB, s *Store, name string) string {
	t.Helper()
	_, tok, err := s.Login(context.Background(), name, name+"-password", "192.0.2.1:1234")
	if err != nil {
		t.Fatalf("Login(%s): %v", name, err)
	}
	return tok
}
