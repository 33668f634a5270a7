package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// Every setting is documented in the README and in --help.
func TestEverySettingDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var help bytes.Buffer
	printHelp(&help)
	for _, s := range settings() {
		if s.Desc == "" {
			t.Errorf("%s has no description", s.Name)
		}
		if !strings.Contains(string(readme), "`"+s.Name+"`") {
			t.Errorf("README does not document %s", s.Name)
		}
		if !strings.Contains(help.String(), s.Name) {
			t.Errorf("--help does not list %s", s.Name)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(map[string]string{"WISHCAST_LISTEN": "127.0.0.1:9", "WISHCAST_STUN_URLS": "stun:a:3478,stun:b:3478"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9" || len(cfg.WebRTC.STUNURLs) != 2 || cfg.WebRTC.HandshakeTimeout != 10*time.Second || cfg.Stream.OnDemandTimeout != 10*time.Second {
		t.Fatalf("config %+v", cfg)
	}
	for env, want := range map[string]string{
		"WISHCAST_LOG_FORMAT":         "LOG_FORMAT",
		"WISHCAST_HANDSHAKE_TIMEOUT":  "HANDSHAKE_TIMEOUT",
		"WISHCAST_HTTP_WRITE_TIMEOUT": "HTTP_WRITE_TIMEOUT",
	} {
		val := map[string]string{"WISHCAST_LOG_FORMAT": "xml", "WISHCAST_HANDSHAKE_TIMEOUT": "soon", "WISHCAST_HTTP_WRITE_TIMEOUT": "5s"}[env]
		_, err := loadConfig(map[string]string{env: val})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: error %v, want one naming %s", env, val, err, want)
		}
	}
}

func TestRunHelpAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, nil, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "WISHCAST_LISTEN") {
		t.Fatalf("--help: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"version"}, nil, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "wishcast ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run([]string{"bogus"}, nil, nil, &out, &errb); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}

// DATABASE_URL takes a postgres:// URL; anything else is refused at once,
// without showing the password it may hold.
func TestDatabaseURLSetting(t *testing.T) {
	cfg, err := loadConfig(map[string]string{"WISHCAST_DATA_DIR": "/srv/w"})
	if err != nil || cfg.storeAddress() != "sqlite:///srv/w/wishcast.db" {
		t.Fatalf("default store %q, %v", cfg.storeAddress(), err)
	}
	good := "postgres://wishcast:pw@db.example:5432/wishcast?sslmode=verify-full"
	if cfg, err := loadConfig(map[string]string{"WISHCAST_DATABASE_URL": good}); err != nil || cfg.storeAddress() != good {
		t.Fatalf("postgres store %q, %v", cfg.storeAddress(), err)
	}
	for _, bad := range []string{"mysql://u:hunter2@h/db", "sqlite:///tmp/x.db", "postgres://u:hunter2@h:port/db"} {
		_, err := loadConfig(map[string]string{"WISHCAST_DATABASE_URL": bad})
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("DATABASE_URL=%s: %v", bad, err)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"user", "list"}, map[string]string{"WISHCAST_DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1"}, nil, &out, &errb); code != 1 ||
		strings.Contains(errb.String(), "hunter2") || !strings.Contains(errb.String(), "xxxxx") {
		t.Errorf("user list on a database that does not answer: %d %q", code, errb.String())
	}
}
