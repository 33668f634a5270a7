package auth

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkLogin measures a successful sign-in with the default argon2id
// parameters (the real cost a user waits for), session insert included.
func BenchmarkLogin(b *testing.B) {
	cfg := testConfig()
	cfg.PasswordTime, cfg.PasswordMemory, cfg.PasswordThreads, cfg.LoginConcurrency = 0, 0, 0, 0 // defaults
	s, _ := openAt(b, filepath.Join(b.TempDir(), DefaultFileName), cfg)
	mustUser(b, s, "bench", RoleUser)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := s.Login(ctx, "bench", "bench-password", ""); err != nil {
			b.Fatal(err)
		}
	}
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
// among a few hundred other tokens.
func BenchmarkAuthenticate(b *testing.B) {
	for _, cached := range []bool{true, false} {
		cfg := testConfig()
		mode := "cached"
		if !cached {
			cfg.TokenCacheTTL, mode = -1, "uncached"
		}
		s, _ := openAt(b, filepath.Join(b.TempDir(), DefaultFileName), cfg)
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
		for kind, tok := range map[string]string{"session": sess, "key": key} {
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

// BenchmarkCreateToken measures one write transaction (synchronous=FULL:
// an fsync of the WAL per commit).
func BenchmarkCreateToken(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := s.CreateToken(ctx, "admin", Scope{Action: ActionPublish, Stream: "live/x"}, "", 0); err != nil {
			b.Fatal(err)
		}
	}
}
