package auth

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
)

func TestOpenPragmasAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, DefaultFileName)
	s, _ := openAt(t, path, testConfig())
	ctx := context.Background()

	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := s.wdb.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	var fk, qo string
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != "1" {
		t.Errorf("reader foreign_keys = %q, %v", fk, err)
	}
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader query_only = %q, %v", qo, err)
	}
	if _, err := s.rdb.ExecContext(ctx, "DELETE FROM users"); err == nil {
		t.Error("the reader pool accepted a write")
	}

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("WAL file: %v, %v", st.Mode(), err)
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o750 {
		t.Errorf("directory mode %v, want 0750", dst.Mode().Perm())
	}
}

func TestMigrationsAppliedOnce(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	path := filepath.Join(t.TempDir(), DefaultFileName)
	ctx := context.Background()
	type row struct {
		v  int
		at int64
	}
	read := func(s *Store) []row {
		rows, err := s.rdb.QueryContext(ctx, "SELECT version, applied_at FROM schema_version ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.v, &r.at); err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		return rs
	}

	s1, log1 := openAt(t, path, testConfig())
	first := read(s1)
	if len(first) != len(ms) {
		t.Fatalf("schema_version has %d rows, want %d", len(first), len(ms))
	}
	if n := strings.Count(log1.String(), "applied database migration"); n != len(ms) {
		t.Errorf("logged %d migrations, want %d", n, len(ms))
	}
	mustUser(t, s1, "keep", RoleUser)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s2, log2 := openAt(t, path, testConfig())
	if again := read(s2); len(again) != len(first) || again[0] != first[0] {
		t.Errorf("reopen changed schema_version: %v -> %v", first, again)
	}
	if strings.Contains(log2.String(), "applied database migration") {
		t.Error("reopen applied a migration again")
	}
	if _, err := s2.GetUser(ctx, "keep"); err != nil {
		t.Errorf("data lost on reopen: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFileName)
	s, _ := openAt(t, path, testConfig())
	if _, err := s.wdb.Exec("INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err := Open(context.Background(), path, testConfig(), nil)
	if err == nil || !strings.Contains(err.Error(), "newer wishcast") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "with space?and#hash%20", DefaultFileName)
	s, _ := openAt(t, path, testConfig())
	mustUser(t, s, "odd", RoleUser)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
	var file string
	if err := s.rdb.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		t.Fatal(err)
	}
	if file != path {
		t.Errorf("SQLite opened %q, want %q", file, path)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.SessionTTL.Hours() != 720 || c.LoginMaxFailures != 5 || c.LoginWindow.Minutes() != 1 ||
		c.PasswordMemory != 65536 || c.PasswordTime != 2 || c.PasswordThreads != 2 || c.AdminName != "admin" ||
		c.LoginConcurrency != 2 || c.TokenCacheTTL.Seconds() != 10 || c.BusyTimeout.Seconds() != 5 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigTags(t *testing.T) {
	parsed, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{}).withDefaults(); parsed != want {
		t.Errorf("envDefault tags and withDefaults disagree:\n env: %+v\n go:  %+v", parsed, want)
	}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("env") == "" || f.Tag.Get("desc") == "" {
			t.Errorf("field %s lacks an env or desc tag", f.Name)
		}
	}
}
