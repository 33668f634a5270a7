package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestBootstrapGeneratedPassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		cfg := testConfig()
		cfg.AdminPassword = ""
		s, log := db.openLogged(t, cfg)
		ctx := context.Background()

		b := s.Bootstrap()
		if !b.Created || b.Name != "admin" || len(b.Password) < 16 {
			t.Fatalf("Bootstrap() = %+v, want a created admin with a generated password of 16+ characters", b)
		}
		out := log.String()
		if n := strings.Count(out, b.Password); n != 1 {
			t.Errorf("generated password appears %d times in the log, want exactly once:\n%s", n, out)
		}
		line := lineWith(out, b.Password)
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "sign in and change it") {
			t.Errorf("password log line lacks WARN level or the instruction: %s", line)
		}
		u, err := s.GetUser(ctx, "admin")
		if err != nil || u.Role != RoleAdmin {
			t.Fatalf("admin: %+v, %v", u, err)
		}
		if _, _, err := s.Login(ctx, "admin", b.Password, "192.0.2.9"); err != nil {
			t.Fatalf("the generated password does not work: %v", err)
		}
		if _, _, err := s.Login(ctx, "admin", "", "192.0.2.9"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("an empty password worked or failed oddly: %v", err)
		}
		_ = s.Close()

		// A second start creates nothing, logs no password, and the first one
		// still works.
		s2, log2 := db.openLogged(t, cfg)
		if b2 := s2.Bootstrap(); b2.Created || b2.Password != "" {
			t.Errorf("second Open bootstrapped again: %+v", b2)
		}
		if strings.Contains(log2.String(), "first admin") {
			t.Errorf("second Open logged a bootstrap: %s", log2)
		}
		us, err := s2.ListUsers(ctx)
		if err != nil || len(us) != 1 {
			t.Fatalf("users after reopen: %v, %v", us, err)
		}
		if _, _, err := s2.Login(ctx, "admin", b.Password, "192.0.2.9"); err != nil {
			t.Errorf("password lost after reopen: %v", err)
		}
	})
}

func TestBootstrapConfiguredPassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		cfg := testConfig()
		cfg.AdminName = "root"
		cfg.AdminPassword = "configured-secret-42"
		s, log := db.openLogged(t, cfg)
		ctx := context.Background()
		if b := s.Bootstrap(); !b.Created || b.Name != "root" || b.Password != "" {
			t.Fatalf("Bootstrap() = %+v", b)
		}
		if strings.Contains(log.String(), cfg.AdminPassword) {
			t.Error("the configured password was logged")
		}
		if !strings.Contains(log.String(), "level=WARN") {
			t.Error("no warning to change the configured password")
		}
		if _, _, err := s.Login(ctx, "root", cfg.AdminPassword, ""); err != nil {
			t.Fatalf("configured password does not work: %v", err)
		}
		_ = s.Close()

		// Changing the setting later changes nothing.
		cfg.AdminPassword = "another-password"
		s2, _ := db.openLogged(t, cfg)
		if _, _, err := s2.Login(ctx, "root", cfg.AdminPassword, ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("ADMIN_PASSWORD applied after the first start: %v", err)
		}
	})
}

func TestBootstrapRefusesWeakOrBadSettings(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"short password": func(c *Config) { c.AdminPassword = "short" },
		"bad name":       func(c *Config) { c.AdminName = "../root" },
		"bad memory":     func(c *Config) { c.PasswordMemory, c.PasswordThreads = 8, 4 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			mod(&cfg)
			s, err := Open(context.Background(), filepath.Join(t.TempDir(), DefaultFileName), cfg, nil)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// lineWith returns the first line of s containing sub.
func lineWith(s, sub string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

func TestBootstrapSettingsIgnoredLater(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		_ = s.Close()
		cfg := testConfig()
		cfg.AdminPassword, cfg.AdminName = "short", "bad/name"
		s2, err := db.tryOpen(cfg)
		if err != nil {
			t.Fatalf("settings only used on the first start failed a later one: %v", err)
		}
		_ = s2.Close()
	})
}
