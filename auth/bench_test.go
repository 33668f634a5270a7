package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// benchBackends runs bench on each backend, as sub-benchmarks; open
// opens a fresh store with cfg. PostgreSQL is the durable test server
// (fsync and synchronous commit on, as in production), as SQLite runs
// with synchronous=FULL.
func benchBackends(b *testing.B, bench func(b *testing.B, open func(cfg Config) *Store)) {
	b.Run("sqlite", func(b *testing.B) {
		bench(b, func(cfg Config) *Store {
			s, _ := openAt(b, filepath.Join(b.TempDir(), DefaultFileName), cfg)
			return s
		})
	})
	b.Run("postgres", func(b *testing.B) {
		bench(b, func(cfg Config) *Store {
			db := &testDB{kind: "postgres", loc: Location{URL: pgDurable.Database(b)}}
			s, _ := db.openLogged(b, cfg)
			if cfg.TokenCacheTTL >= 0 {
				waitListening(b, s)
			}
			return s
		})
	})
}

// waitListening waits until s hears other processes, so that its token
// cache is on.
func waitListening(b testing.TB, s *Store) {
	b.Helper()
	for start := time.Now(); s.cache.paused.Load(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			b.Fatal("the store does not listen")
		}
	}
}

// BenchmarkLogin measures a successful sign-in with the default argon2id
// parameters (the real cost a user waits for), session insert included.
func BenchmarkLogin(b *testing.B) {
	benchBackends(b, func(b *testing.B, open func(Config) *Store) {
		cfg := testConfig()
		cfg.PasswordTime, cfg.PasswordMemory, cfg.PasswordThreads, cfg.LoginConcurrency = 0, 0, 0, 0 // defaults
		s := open(cfg)
		mustUser(b, s, "bench", RoleUser)
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := s.Login(ctx, "bench", "bench-password", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoginCheapHash is a sign-in with the tests' cheap password
// hashing, which leaves mostly the database's part: a lookup and a
// transaction that inserts the session.
func BenchmarkLoginCheapHash(b *testing.B) {
	benchBackends(b, func(b *testing.B, open func(Config) *Store) {
		s := open(testConfig())
		mustUser(b, s, "bench", RoleUser)
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := s.Login(ctx, "bench", "bench-password", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoginUnknownUser is a failed sign-in for a user who does not
// exist (the dummy hash), to compare with BenchmarkLogin.
func BenchmarkLoginUnknownUser(b *testing.B) {
	cfg := testConfig()
	cfg.PasswordTime, cfg.PasswordMemory, cfg.PasswordThreads, cfg.LoginConcurrency = 0, 0, 0, 0
	cfg.LoginMaxFailures = 1 << 30
	s, _ := openAt(b, filepath.Join(b.TempDir(), DefaultFileName), cfg)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		_, _, _ = s.Login(ctx, "nobody", "bench-password", "")
	}
}

// BenchmarkAuthenticate measures a token check, for sessions and publish
// keys, from the in-memory cache and from the database (cache disabled),
// among a few hundred other tokens, on each backend.
func BenchmarkAuthenticate(b *testing.B) {
	benchBackends(b, func(b *testing.B, open func(Config) *Store) {
		for _, cached := range []bool{true, false} {
			cfg := testConfig()
			mode := "cached"
			if !cached {
				cfg.TokenCacheTTL, mode = -1, "uncached"
			}
			s := open(cfg)
			ctx := context.Background()
			mustUser(b, s, "bench", RoleUser)
			var sess string
			for range 300 {
				sess = mustLogin(b, s, "bench")
			}
			var key string
			for range 100 {
				var err error
				if _, key, err = s.CreateToken(ctx, "bench", Scope{Action: ActionPublish, Stream: "users/bench"}, "", 0); err != nil {
					b.Fatal(err)
				}
			}
			for _, kind := range []string{"session", "key"} {
				tok := map[string]string{"session": sess, "key": key}[kind]
				b.Run(mode+"/"+kind, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := s.Authenticate(ctx, tok); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(mode+"/"+kind+"/parallel", func(b *testing.B) {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := s.Authenticate(ctx, tok); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	})
}

// BenchmarkAuthorize measures the permission decision, allowed and denied.
func BenchmarkAuthorize(b *testing.B) {
	call := StreamInfo{Caller: "alice", Callee: "bob"}
	k := key("alice", ActionPublish, "live/")
	for _, c := range []struct {
		name   string
		p      *Principal
		action Action
		stream string
		info   StreamInfo
	}{
		{"user-view-user", pBob, ActionView, "users/alice", StreamInfo{}},
		{"call-view", pAlice, ActionView, "calls/c1/bob", call},
		{"key-publish-live", k, ActionPublish, "live/team/cam", StreamInfo{}},
		{"denied", pCarol, ActionView, "calls/c1/bob", call},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Authorize(c.p, c.action, c.stream, c.info)
			}
		})
	}
}

// BenchmarkCreateToken measures one write transaction, on each backend
// (SQLite: an fsync of the WAL per commit; PostgreSQL: a serializable
// transaction and its WAL flush).
func BenchmarkCreateToken(b *testing.B) {
	benchBackends(b, func(b *testing.B, open func(Config) *Store) {
		s := open(testConfig())
		ctx := context.Background()
		for b.Loop() {
			if _, _, err := s.CreateToken(ctx, "admin", Scope{Action: ActionPublish, Stream: "live/x"}, "", 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
